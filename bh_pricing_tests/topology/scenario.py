"""Steps the topology tests share: what to materialize (and materializing it), what is in S3 and
MLflow, a market batch landing, and the Lambda handler serving from S3."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from bh_pricing.assets.training.candidates import CANDIDATE_KEYS
from bh_pricing.constants import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.shift import shift_prices, to_raw_format
from bh_pricing.io import storage
from bh_pricing.io.landing import batch_key, content_sha256
from bh_pricing.serving import handler, lambda_handler
from bh_pricing_tests.topology.dagster_services import DagsterStack
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.stack import AWS_TEST_ENV, BUCKET, Topology

# Synthetic shift tools live in this group; the tests land their own batch instead.
SYNTHETIC_GROUP = "monitoring"
SERVING_BUNDLE = "serving_bundle"
CHECK_JOB, RETRAIN_JOB = "check_market_batch", "retrain_on_drift"
DRIFT_BATCH_TAG = "bh_pricing/drift_batch"
MARKET_BATCHES, DRIFT_REPORT, NO_DRIFT = "market_batches", "drift_report", "no_drift"
CANDIDATES = {key.to_user_string() for key in CANDIDATE_KEYS}
FULL_RUN_TIMEOUT = 600.0
BUNDLES_PREFIX = "artifacts/bundles/"
CURRENT_KEY = BUNDLES_PREFIX + "current.json"
SAVASSI = {
    "neighborhood": "Savassi",
    "square_foot": 90,
    "rooms": 3,
    "garage_places": 2,
    "adm_fees": 750.0,
    "latitude": -19.937,
    "longitude": -43.934,
}


def production_assets(stack: DagsterStack) -> list[str]:
    """Every unpartitioned asset outside the synthetic-shift tools: the production line."""
    nodes = stack.dagster.asset_nodes()
    return sorted(
        key
        for key, node in nodes.items()
        if node["isMaterializable"]
        and not node["isPartitioned"]
        and node["groupName"] != SYNTHETIC_GROUP
    )


def materialize_production_line(stack: DagsterStack) -> Run:
    """The production line materialized once, launched through the webserver's GraphQL API."""
    assets = production_assets(stack)
    # Three folds instead of five: the same code paths in less time.
    config = {"ops": {key: {"config": {"folds": 3}} for key in assets if key in CANDIDATES}}
    run_id = stack.dagster.launch(assets, config)
    run = stack.dagster.wait_for_run(run_id, FULL_RUN_TIMEOUT)
    if run.status != "SUCCESS":
        messages = "\n".join(stack.dagster.failure_messages(run_id))
        raise AssertionError(f"full materialization {run_id} ended {run.status}:\n{messages}")
    return run


def has_assets(stack: DagsterStack, *keys: str) -> bool:
    """True when the code location defines every one of ``keys``."""
    return set(keys) <= set(stack.dagster.asset_nodes())


def s3_objects(topology: Topology, prefix: str) -> dict[str, str]:
    """Key -> ETag of the objects under ``prefix`` in the test bucket."""
    pages = topology.s3().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def read_s3(topology: Topology, key: str) -> bytes:
    """One object of the test bucket."""
    return topology.s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()


def mlflow_client(topology: Topology) -> MlflowClient:
    """A client of the MLflow tracking server."""
    return MlflowClient(topology.mlflow_url, topology.mlflow_url)


def champion(topology: Topology) -> ModelVersion:
    """The version holding the champion alias."""
    return mlflow_client(topology).get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)


def registered_versions(topology: Topology) -> list[str]:
    """Every registered version of the model."""
    found = mlflow_client(topology).search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
    return sorted(v.version for v in found)


def shifted_batch_csv(factor: float, seed: int = 29) -> str:
    """A raw-format CSV of fresh listings with every price multiplied by ``factor``."""
    clean = clean_listings(generate_raw_listings(600, seed=seed)).clean
    shifted = shift_prices(clean, factor - 1, factor - 1, seed=5).frame
    buffer = io.StringIO()
    to_raw_format(shifted).to_csv(buffer, index=False)
    return buffer.getvalue()


def land_shifted_batch(topology: Topology, name: str, factor: float) -> str:
    """Put a batch of fresh listings with prices raised by ``factor`` at ``landing/<name>``;
    the partition key the landing sensor gives it."""
    content = shifted_batch_csv(factor).encode()
    topology.s3().put_object(Bucket=BUCKET, Key=f"landing/{name}", Body=content)
    return batch_key(name, content_sha256(content))


def partition_filter(job: str, partition: str) -> dict[str, Any]:
    """RunsFilter for the runs of ``job`` on one partition."""
    return {"pipelineName": job, "tags": [{"key": "dagster/partition", "value": partition}]}


def retraining_filter(batch: str) -> dict[str, Any]:
    """RunsFilter for the retraining runs launched by drift in ``batch`` (unpartitioned runs of
    the training graph, tagged with the batch by the sensor)."""
    return {"pipelineName": RETRAIN_JOB, "tags": [{"key": DRIFT_BATCH_TAG, "value": batch}]}


@contextmanager
def handler_environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set for the handler, with a fresh service and S3 client; all restored after."""
    with mock.patch.dict(os.environ, env):
        storage.reset_s3_client()
        lambda_handler.reset_service(None)
        try:
            yield
        finally:
            lambda_handler.reset_service(None)
            storage.reset_s3_client()


def serving_environment(topology: Topology) -> AbstractContextManager[None]:
    """The Lambda's environment: S3 through the gate, the bundle root as the model URI."""
    return handler_environment(
        {
            **AWS_TEST_ENV,
            "AWS_ENDPOINT_URL": topology.gate.url,
            "BH_PRICING_MODEL_URI": topology.uri(BUNDLES_PREFIX.rstrip("/")),
            "BH_PRICING_PREDICTION_LOG_URI": topology.uri("prediction-log"),
        }
    )


def local_serving_environment(bundles: str, prediction_log: str) -> AbstractContextManager[None]:
    """The handler's environment on local folders: ``bundles`` as the model URI."""
    return handler_environment(
        {"BH_PRICING_MODEL_URI": bundles, "BH_PRICING_PREDICTION_LOG_URI": prediction_log}
    )


def invoke(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """Call the Lambda handler with an HTTP API (v2) event; status and JSON body."""
    event = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "sourceIp": "127.0.0.1",
                "protocol": "HTTP/1.1",
            },
            "stage": "$default",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    response = handler(event, None)
    return response["statusCode"], json.loads(response["body"])
