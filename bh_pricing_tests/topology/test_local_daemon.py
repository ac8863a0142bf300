"""The local deployment's lifecycle, driven by the real daemon: with ``BH_PRICING_ENV`` unset,
SQLite everywhere and no other service, shifted batches dropped into the landing folder one after
the other become partitions, their drift checks fail, and each time the retraining sensor
re-materializes the graph's own assets (training data, candidates, ``champion_model``,
``serving_bundle``). After each retraining the latest ``champion_model`` names the registry's
champion, which is the bundle the handler serves; the second retraining trains on both batches.
Under the manual policy a retraining leaves the champion and sets ``challenger``.

Tests in this module run in order against one stack; each starts from what the previous left.
"""

from __future__ import annotations

import json

import pytest
from mlflow.entities.model_registry import ModelVersion

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing_tests.topology.drift_loop import (
    LANDING_SENSOR,
    RETRAINING_SENSOR,
    follow_to_retraining,
)
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.local_stack import LocalStack
from bh_pricing_tests.topology.scenario import (
    RETRAIN_JOB,
    SAVASSI,
    invoke,
    local_serving_environment,
    materialize_production_line,
    shifted_batch_csv,
)

# Two retrainings of four candidates each, then a third: longer than the suite's default timeout
# on a shared 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

SENSOR_TIMEOUT, RETRAIN_TIMEOUT = 240.0, 900.0
# A bound on behaviour, not a speed test: it only catches a retraining the sensor never launches.
# The target is measured by benchmarks/retraining_latency.py; here the latency is recorded.
LATENCY_BOUND = 180.0
BATCHES = ("market-2026-12-shift40.csv", "market-2027-01-shift40.csv")


@pytest.fixture(scope="module")
def first_champion(local_stack: LocalStack) -> ModelVersion:
    """The champion of the production line, materialized once through GraphQL."""
    run = materialize_production_line(local_stack)
    version = alias(local_stack, CHAMPION_ALIAS)
    assert version.tags.get("dagster_run_id") == run.run_id, version.tags
    return version


def alias(stack: LocalStack, name: str) -> ModelVersion:
    """The version holding an alias in the local MLflow store."""
    return stack.mlflow().get_model_version_by_alias(REGISTERED_MODEL_NAME, name)


def sensor_launched_retraining(
    stack: LocalStack, batch: str, record_property: pytest.RecordProperty
) -> Run:
    """Follow ``batch`` from landing to the start of its retraining run, checking every stage;
    record how long the retraining took to start after the drift result."""
    trace = follow_to_retraining(stack.dagster, batch, SENSOR_TIMEOUT)
    check_run, retraining, latency = trace.check_run, trace.retraining, trace.latency
    assert check_run.tags.get("dagster/sensor_name") == LANDING_SENSOR, check_run.tags
    assert trace.drift.check.severity == "ERROR", trace.drift
    record_property(f"{batch}: drift_to_retraining_start_s", round(latency.started, 1))
    assert retraining.job_name == RETRAIN_JOB, retraining
    assert retraining.tags.get("dagster/sensor_name") == RETRAINING_SENSOR, retraining.tags
    assert retraining.tags.get("bh_pricing/drift_run") == check_run.run_id, retraining.tags
    assert "dagster/partition" not in retraining.tags, "the training graph is not partitioned"
    assert 0 < latency.started <= LATENCY_BOUND, f"retraining started {latency.started:.1f} s late"
    return retraining


def wait_for_success(stack: LocalStack, run: Run) -> Run:
    """Wait for a run to finish; fail with its errors unless it succeeded."""
    finished = stack.dagster.wait_for_run(run.run_id, RETRAIN_TIMEOUT)
    assert finished.status == "SUCCESS", stack.dagster.failure_messages(run.run_id)
    return finished


def assert_one_truth(stack: LocalStack, retraining: Run) -> ModelVersion:
    """``champion_model``'s latest materialization (by this run) = registry champion = the
    published bundle = what the handler serves; the champion."""
    run_id, champion_meta = stack.dagster.latest_metadata("champion_model")
    assert run_id == retraining.run_id, "the retraining re-materialized champion_model"
    champion = alias(stack, CHAMPION_ALIAS)
    assert champion_meta["champion_version"] == int(champion.version), champion_meta
    bundle_run, bundle_meta = stack.dagster.latest_metadata("serving_bundle")
    assert bundle_run == retraining.run_id, "serving_bundle follows in the same run"
    assert bundle_meta["model_version"] == str(champion.version), bundle_meta
    bundles = stack.home / "artifacts" / "bundles"
    current = json.loads((bundles / "current.json").read_text())
    assert current["model_version"] == str(champion.version), current
    with local_serving_environment(str(bundles), str(stack.home / "prediction-log")):
        status, body = invoke("POST", "/predict", SAVASSI)
    assert status == 200, body
    assert body["model_version"] == str(champion.version), body
    return champion


def test_two_shifted_batches_retrain_the_graph_and_the_served_champion_follows(
    local_stack: LocalStack, first_champion: ModelVersion, record_property: pytest.RecordProperty
) -> None:
    champions, keys = [first_champion], []
    for landed, (name, seed) in enumerate(zip(BATCHES, (29, 31), strict=True), start=1):
        batch = local_stack.land(name, shifted_batch_csv(1.4, seed=seed))
        keys.append(batch)
        retraining = sensor_launched_retraining(local_stack, batch, record_property)
        wait_for_success(local_stack, retraining)
        champions.append(assert_one_truth(local_stack, retraining))
        _, decided = local_stack.dagster.latest_metadata("champion_model")
        record_property(f"{batch}: decision", decided["decision"])
        # the training data holds every batch landed so far
        _, training = local_stack.dagster.latest_metadata("train_listings")
        assert training["batches"] == ", ".join(keys), training
        assert training["batch_count"] == landed
    # a 40 % rise justifies the first promotion, decided by the retraining run
    assert champions[1].version != first_champion.version, "the champion alias did not move"
    assert champions[1].tags["trigger"] == f"retrain {keys[0]}", champions[1].tags
    for tag in ("candidate_score", "champion_score", "decision_reason", "dagster_run_id"):
        assert champions[1].tags.get(tag), f"the retrained champion carries {tag}"


@pytest.mark.usefixtures("first_champion")
def test_under_the_manual_policy_retraining_sets_challenger_and_keeps_the_champion(
    local_stack: LocalStack, record_property: pytest.RecordProperty
) -> None:
    champion_before = alias(local_stack, CHAMPION_ALIAS)
    # The policy is read when the code location loads.
    local_stack.restart("grpc", env={"BH_PRICING_PROMOTION_POLICY": "manual"})
    # +40 % on top of the +40 % the current champion has learned.
    batch = local_stack.land("market-2027-02-shift96.csv", shifted_batch_csv(1.4 * 1.4, seed=37))

    retraining = sensor_launched_retraining(local_stack, batch, record_property)
    assert retraining.tags.get("bh_pricing/policy") == "manual", retraining.tags
    wait_for_success(local_stack, retraining)

    challenger = alias(local_stack, CHALLENGER_ALIAS)
    assert challenger.tags.get("dagster_run_id") == retraining.run_id, challenger.tags
    assert alias(local_stack, CHAMPION_ALIAS).version == champion_before.version
    # champion_model says it kept the champion; the bundle still serves it
    assert assert_one_truth(local_stack, retraining).version == champion_before.version
