"""The production topology end to end: materialize through the webserver, find the champion in
the MLflow server and its bundle in S3, serve it from the Lambda handler, then land a shifted
market batch and watch the sensors check it and retrain.

Tests in this module run in order against one stack; each starts from what the previous left.
"""

from __future__ import annotations

import json
import time

import pytest

from bh_pricing.constants import REGISTERED_MODEL_NAME
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.scenario import (
    CHECK_JOB,
    CURRENT_KEY,
    MARKET_BATCHES,
    SAVASSI,
    SERVING_BUNDLE,
    champion,
    has_assets,
    invoke,
    land_shifted_batch,
    mlflow_client,
    partition_filter,
    production_assets,
    read_s3,
    retraining_filter,
    s3_objects,
    serving_environment,
)
from bh_pricing_tests.topology.stack import BUCKET, Topology

pytestmark = pytest.mark.integration

GRAPH_HEAD, GRAPH_TAIL = "raw_listings", "champion_model"
# The landing sensor keys a batch by its path under the landing prefix and its content.
BATCH = "market-2026-11-shift40.csv"
SENSOR_TIMEOUT, RETRAIN_TIMEOUT = 240.0, 600.0


def require_serving(topology: Topology) -> None:
    """The serving bundle is part of the main code location."""
    assert has_assets(topology, SERVING_BUNDLE), f"{SERVING_BUNDLE} is not defined"


def require_drift(topology: Topology) -> None:
    """Batches, their drift check, retraining and both sensors are defined."""
    assert has_assets(topology, MARKET_BATCHES, "drift_report", "champion_model")
    assert {"landing_sensor", "retraining_sensor"} <= set(topology.dagster.sensors())


def test_the_code_location_shows_the_graph_from_raw_listings_to_the_champion(
    topology: Topology,
) -> None:
    nodes = topology.dagster.asset_nodes()
    assert GRAPH_HEAD in nodes, f"asset graph lacks {GRAPH_HEAD}: {sorted(nodes)}"
    champion_deps = {"/".join(d["path"]) for d in nodes[GRAPH_TAIL]["dependencyKeys"]}
    assert "test_listings" in champion_deps, f"champion_model inputs: {champion_deps}"


def test_full_materialization_launched_through_graphql_succeeds(
    topology: Topology, materialized: Run
) -> None:
    assert set(materialized.asset_keys) == set(production_assets(topology))
    assert materialized.status == "SUCCESS"
    io_objects = s3_objects(topology, "dagster/io/")
    assert "dagster/io/champion_model" in io_objects, f"I/O manager objects: {sorted(io_objects)}"


def test_champion_alias_is_in_the_mlflow_server_with_artifacts_in_s3(
    topology: Topology, materialized: Run
) -> None:
    version = champion(topology)
    assert version.tags.get("dagster_run_id") == materialized.run_id
    artifacts = s3_objects(topology, "mlflow/")
    assert any(k.endswith("MLmodel") for k in artifacts), f"no MLmodel under s3://{BUCKET}/mlflow"


def test_serving_bundle_of_the_champion_is_published_in_s3(
    topology: Topology, materialized: Run
) -> None:
    require_serving(topology)
    pointer = json.loads(read_s3(topology, CURRENT_KEY))
    assert pointer["model_version"] == champion(topology).version, pointer


def test_lambda_handler_serves_the_champion_from_the_s3_bundle(
    topology: Topology, materialized: Run
) -> None:
    require_serving(topology)
    with serving_environment(topology):
        status, body = invoke("POST", "/predict", SAVASSI)
    assert status == 200, body
    assert body["model_version"] == champion(topology).version
    assert 50_000 < body["price"] < 20_000_000, f"implausible price {body['price']}"


def test_shifted_batch_in_landing_is_checked_and_triggers_one_retraining(
    topology: Topology, materialized: Run
) -> None:
    require_drift(topology)
    before = champion(topology).version
    batch = land_shifted_batch(topology, BATCH, factor=1.4)

    (check,) = topology.dagster.wait_for_runs(
        partition_filter(CHECK_JOB, batch), 1, SENSOR_TIMEOUT, finished=True
    )
    assert check.tags.get("dagster/sensor_name") == "landing_sensor"
    (retrain,) = topology.dagster.wait_for_runs(retraining_filter(batch), 1, SENSOR_TIMEOUT)
    assert retrain.tags.get("dagster/sensor_name") == "retraining_sensor"

    # The daemon crashes while the retraining is in flight and comes back.
    topology.restart("daemon", crash=True)
    restarted = time.time()
    finished = topology.dagster.wait_for_run(retrain.run_id, RETRAIN_TIMEOUT)
    assert finished.status == "SUCCESS", topology.dagster.failure_messages(retrain.run_id)

    # Both sensors have evaluated again since the restart: still one check and one retraining.
    for sensor in ("landing_sensor", "retraining_sensor"):
        topology.dagster.wait_for_sensor_tick(sensor, restarted, SENSOR_TIMEOUT)
    assert len(topology.dagster.runs(partition_filter(CHECK_JOB, batch))) == 1
    assert len(topology.dagster.runs(retraining_filter(batch))) == 1
    versions = mlflow_client(topology).search_model_versions(f"name = '{REGISTERED_MODEL_NAME}'")
    registered = [v for v in versions if v.tags.get("dagster_run_id") == retrain.run_id]
    assert len(registered) == 1, f"retraining registered {len(registered)} versions"
    assert registered[0].version != before


def test_serving_bundle_follows_the_champion_after_retraining(
    topology: Topology, materialized: Run
) -> None:
    require_serving(topology)
    require_drift(topology)
    version = champion(topology).version
    deadline = time.monotonic() + RETRAIN_TIMEOUT
    while json.loads(read_s3(topology, CURRENT_KEY))["model_version"] != version:
        assert time.monotonic() < deadline, f"no bundle of champion v{version} published"
        time.sleep(5)
    with serving_environment(topology):
        status, body = invoke("POST", "/predict", SAVASSI)
    assert status == 200, body
    assert body["model_version"] == version
