"""Faults injected into the running topology: the MLflow server dies during training, and S3
goes away while a bundle is being published. Each run must fail with an error that names what
is unreachable, and leave the champion alias and the published bundle as they were.

(A daemon crash during retraining is covered where the retraining happens, in test_pipeline.)
"""

from __future__ import annotations

import json
import time

import pytest

from bh_pricing.assets.training.candidates import CANDIDATE_KEYS
from bh_pricing.constants import EXPERIMENT_NAME
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.scenario import (
    BUNDLES_PREFIX,
    CURRENT_KEY,
    SAVASSI,
    SERVING_BUNDLE,
    champion,
    has_assets,
    invoke,
    mlflow_client,
    read_s3,
    registered_versions,
    s3_objects,
    serving_environment,
)
from bh_pricing_tests.topology.stack import BUCKET, Topology

pytestmark = pytest.mark.integration

FAILURE_TIMEOUT = 300.0
CANDIDATES = [key.to_user_string() for key in CANDIDATE_KEYS]


def wait_for_mlflow_run(topology: Topology, dagster_run_id: str) -> None:
    """Poll until a candidate step has opened its MLflow run: training is under way."""
    client = mlflow_client(topology)
    deadline = time.monotonic() + FAILURE_TIMEOUT
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
        if experiment is not None:
            runs = client.search_runs(
                [experiment.experiment_id], f"tags.dagster_run_id = '{dagster_run_id}'"
            )
            if runs:
                return
        time.sleep(0.3)
    raise TimeoutError(f"no MLflow run of {dagster_run_id} within {FAILURE_TIMEOUT:.0f}s")


def test_mlflow_server_dying_during_training_fails_the_run_and_keeps_the_champion(
    topology: Topology, materialized: Run
) -> None:
    champion_before, versions_before = champion(topology).version, registered_versions(topology)
    run_id = topology.dagster.launch([*CANDIDATES, "champion_model"])
    topology.dagster.wait_for_step_start(run_id, CANDIDATES, FAILURE_TIMEOUT)
    wait_for_mlflow_run(topology, run_id)
    topology.services["mlflow"].kill()
    try:
        run = topology.dagster.wait_for_run(run_id, FAILURE_TIMEOUT)
    finally:
        topology.restart("mlflow")

    assert run.status == "FAILURE"
    messages = "\n".join(topology.dagster.failure_messages(run_id))
    address = topology.mlflow_url.removeprefix("http://")
    assert address in messages, f"the error does not name the MLflow server:\n{messages}"
    assert champion(topology).version == champion_before
    assert registered_versions(topology) == versions_before, "a version was registered anyway"


def test_s3_outage_while_publishing_a_bundle_fails_cleanly_and_publishes_nothing(
    topology: Topology, materialized: Run
) -> None:
    assert has_assets(topology, SERVING_BUNDLE), f"{SERVING_BUNDLE} is not defined"
    published = s3_objects(topology, BUNDLES_PREFIX)
    current = read_s3(topology, CURRENT_KEY)

    # S3 drops every connection the moment the first bundle file is uploaded.
    topology.gate.cut_on(f"PUT /{BUCKET}/{BUNDLES_PREFIX}".encode())
    try:
        run_id = topology.dagster.launch(
            [SERVING_BUNDLE], {"ops": {SERVING_BUNDLE: {"config": {"force_export": True}}}}
        )
        run = topology.dagster.wait_for_run(run_id, FAILURE_TIMEOUT)
        assert topology.gate.cut_count >= 1, "the run never reached the bundle upload"
    finally:
        topology.gate.open()

    assert run.status == "FAILURE"
    messages = "\n".join(topology.dagster.failure_messages(run_id))
    assert topology.gate.url in messages or f"s3://{BUCKET}/" in messages, (
        f"the error names neither the S3 endpoint nor the URI:\n{messages}"
    )
    assert read_s3(topology, CURRENT_KEY) == current, "current.json moved to a broken bundle"
    assert s3_objects(topology, BUNDLES_PREFIX) == published, "a partial bundle was left behind"
    with serving_environment(topology):
        status, body = invoke("POST", "/predict", SAVASSI)
    assert status == 200, body
    assert body["model_version"] == json.loads(current)["model_version"]
