"""The retraining sensor, tick by tick, on an ephemeral instance (the landing sensor has its own
module, test_landing_sensor.py)."""

import time

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from bh_pricing.core.models import CANDIDATES
from bh_pricing.resources import MonitoringSettings
from bh_pricing.sensors import retraining
from bh_pricing.sensors.landing import check_market_batch, landing_sensor
from bh_pricing.sensors.retraining import RetrainCursor, retrain_on_drift, retraining_sensor

COOLDOWN = 600.0


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def report(instance, batch: str, drift: bool) -> int:
    """Record a drift_report materialization for ``batch``; return its storage id."""
    instance.add_dynamic_partitions("market_batches", [batch])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_report",
            partition=batch,
            metadata={
                "drift_detected": drift,
                "drifted_tests": "residual_bias, price_per_m2" if drift else "none",
                "residual_bias.current_bias": 0.148 if drift else 0.0,
            },
        )
    )
    return (
        instance.fetch_materializations(dg.AssetKey("drift_report"), limit=1).records[0].storage_id
    )


def realized(instance, batch: str, degraded: bool) -> int:
    """Record a realized_errors materialization for ``batch``; return its storage id."""
    instance.add_dynamic_partitions("market_batches", [batch])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="realized_errors",
            partition=batch,
            metadata={
                "verdict": "degraded" if degraded else "within tolerance",
                "degraded": degraded,
                "champion_median_log_error": 0.2 if degraded else 0.0,
                "mape_increase": 0.62 if degraded else 0.03,
            },
        )
    )
    key = dg.AssetKey("realized_errors")
    return instance.fetch_materializations(key, limit=1).records[0].storage_id


def retraining_tick(instance, cursor: str | None = None, policy: str = "auto"):
    settings = MonitoringSettings(promotion_policy=policy, retrain_cooldown_seconds=COOLDOWN)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"monitoring": settings}
    )
    return retraining_sensor(context)


def test_first_drift_requests_a_retraining_with_evidence(instance) -> None:
    # given a drift report that flags drift
    event = report(instance, "b1.csv", drift=True)
    # when the sensor ticks for the first time
    result = retraining_tick(instance)
    # then one run of the training graph is requested, keyed by the drift result
    (request,) = result.run_requests
    assert request.partition_key is None, "the training graph is not partitioned"
    assert request.tags["bh_pricing/drift_batch"] == "b1.csv", "retrain after the drifted batch"
    assert request.run_key == f"drift-{event}", "run_key names the drift result"
    assert request.tags["bh_pricing/drift_tests"] == "residual_bias, price_per_m2", request.tags
    assert request.tags["bh_pricing/drift_bias"] == "+14.8%", request.tags
    assert request.tags["bh_pricing/policy"] == "auto", request.tags
    folds = {op: c["config"]["folds"] for op, c in request.run_config["ops"].items()}
    assert folds == {f"{name}_model": 3 for name in CANDIDATES}, folds
    assert RetrainCursor.parse(result.cursor).storage_id == event, "cursor moves past the report"


def test_nothing_new_skips_and_a_restart_does_not_repeat(instance) -> None:
    # given a tick that already requested a retraining
    report(instance, "b1.csv", drift=True)
    first = retraining_tick(instance)
    # when the sensor ticks again from the stored cursor (as after a daemon restart)
    again = retraining_tick(instance, cursor=first.cursor)
    # then nothing is requested twice
    assert isinstance(again, dg.SkipReason), f"no new report: skip, got {again}"


def test_reports_without_drift_move_the_cursor_only(instance) -> None:
    event = report(instance, "b1.csv", drift=False)
    result = retraining_tick(instance)
    assert not result.run_requests, "no drift, no retraining"
    assert RetrainCursor.parse(result.cursor).storage_id == event, "the report is handled"


def test_drift_within_the_cooldown_waits_then_runs_once(instance) -> None:
    # given a retraining requested just now, and a new drifted batch
    report(instance, "b1.csv", drift=True)
    first = retraining_tick(instance)
    second_event = report(instance, "b2.csv", drift=True)
    # when the sensor ticks within the cooldown
    waiting = retraining_tick(instance, cursor=first.cursor)
    # then the drift waits (cursor untouched, so it is not lost)
    assert isinstance(waiting, dg.SkipReason), "within the cooldown: skip"
    assert "cooldown" in waiting.skip_message, waiting.skip_message
    # when the cooldown has passed
    earlier = RetrainCursor(RetrainCursor.parse(first.cursor).storage_id, time.time() - COOLDOWN)
    result = retraining_tick(instance, cursor=earlier.dump())
    # then one retraining is requested for the waiting batch
    (request,) = result.run_requests
    assert request.run_key == f"drift-{second_event}", "the waiting drift result is handled"
    assert request.tags["bh_pricing/drift_batch"] == "b2.csv", "the latest drifted batch"


def test_several_drifted_batches_give_one_run_for_the_latest(instance) -> None:
    report(instance, "b1.csv", drift=True)
    report(instance, "b2.csv", drift=False)
    report(instance, "b3.csv", drift=True)
    (request,) = retraining_tick(instance, policy="manual").run_requests
    assert request.tags["bh_pricing/drift_batch"] == "b3.csv", "the latest drifted batch"
    assert request.tags["bh_pricing/drift_reports"] == "b1.csv,b3.csv", request.tags
    assert request.tags["bh_pricing/policy"] == "manual", "policy recorded as evidence"


def test_retraining_re_materializes_the_graphs_own_assets() -> None:
    # given the job the retraining sensor launches
    keys = {
        k.to_user_string()
        for k in retrain_on_drift.selection.resolve(definitions().resolve_asset_graph())
    }
    # then it is the training data, every candidate, the champion and the bundle: no copy
    assert keys == {
        "train_listings",
        "test_listings",
        *(f"{name}_model" for name in CANDIDATES),
        "champion_model",
        "serving_bundle",
    }, keys
    assert retraining_sensor.job_name == retrain_on_drift.name


def test_sensors_run_by_default() -> None:
    for sensor in (landing_sensor, retraining_sensor):
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, f"{sensor.name} on"


def test_sensors_tick_on_every_pass_of_the_daemon_loop() -> None:
    # The daemon skips a sensor whose last tick started less than its minimum interval ago; a
    # minimum equal to the loop's period would skip every other pass (a tick every 10 s).
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    for sensor in (landing_sensor, retraining_sensor):
        assert sensor.minimum_interval_seconds < MIN_INTERVAL_LOOP_TIME, sensor.name


def test_the_drift_check_runs_its_steps_in_the_runs_own_process() -> None:
    job = definitions().resolve_job_def(check_market_batch.name)
    assert job.executor_def.name == dg.in_process_executor.name
    assert definitions().resolve_job_def(retrain_on_drift.name).executor_def.name == "multiprocess"


def definitions() -> dg.Definitions:
    """The code location's definitions, as Dagster loads them."""
    from bh_pricing.definitions import defs

    return defs()


def test_degraded_realized_errors_request_a_retraining_with_their_evidence(instance) -> None:
    # given a batch whose realized errors show the champion degraded
    event = realized(instance, "b1.csv", degraded=True)
    # when the sensor ticks
    result = retraining_tick(instance)
    # then one retraining is requested, its tags naming the realized errors as the evidence
    (request,) = result.run_requests
    assert request.run_key == f"drift-{event}", "run_key names the evidence's event"
    assert request.tags["bh_pricing/drift_evidence"] == "realized_errors", request.tags
    assert request.tags["bh_pricing/drift_batch"] == "b1.csv", request.tags
    assert request.tags["bh_pricing/drift_tests"] == "realized_errors (MAPE +62%)", request.tags
    assert request.tags["bh_pricing/drift_bias"] == "+22.1%", "exp(0.2) - 1"
    assert request.tags["bh_pricing/degraded_batches"] == "b1.csv", request.tags
    assert request.tags["bh_pricing/drift_reports"] == "none", request.tags
    assert RetrainCursor.parse(result.cursor).storage_id == event


def test_realized_errors_within_tolerance_move_the_cursor_only(instance) -> None:
    report(instance, "b1.csv", drift=False)
    event = realized(instance, "b1.csv", degraded=False)
    result = retraining_tick(instance)
    assert not result.run_requests, "neither drift nor degradation: no retraining"
    assert "none with drift or degradation" in result.skip_reason.skip_message
    assert RetrainCursor.parse(result.cursor).storage_id == event, "both are handled"


def test_a_drifted_and_degraded_batch_gives_one_run_with_both_as_evidence(instance) -> None:
    # given a batch whose drift report and realized errors both flag it
    report(instance, "b1.csv", drift=True)
    event = realized(instance, "b1.csv", degraded=True)
    # when the sensor ticks, then one run is requested, for the latest evidence
    result = retraining_tick(instance)
    (request,) = result.run_requests
    assert request.run_key == f"drift-{event}"
    assert request.tags["bh_pricing/drift_reports"] == "b1.csv", request.tags
    assert request.tags["bh_pricing/degraded_batches"] == "b1.csv", request.tags
    # and a restart from the stored cursor requests nothing again
    assert isinstance(retraining_tick(instance, cursor=result.cursor), dg.SkipReason)


def test_degradation_after_a_drift_retraining_waits_for_the_same_cooldown(instance) -> None:
    # given a retraining requested for a drift report just now
    report(instance, "b1.csv", drift=True)
    first = retraining_tick(instance)
    event = realized(instance, "b2.csv", degraded=True)
    # when degraded realized errors arrive within the cooldown, then they wait
    waiting = retraining_tick(instance, cursor=first.cursor)
    assert isinstance(waiting, dg.SkipReason), "within the cooldown: skip"
    assert "cooldown" in waiting.skip_message, waiting.skip_message
    # and once the cooldown has passed they are handled by one run
    earlier = RetrainCursor(RetrainCursor.parse(first.cursor).storage_id, time.time() - COOLDOWN)
    (request,) = retraining_tick(instance, cursor=earlier.dump()).run_requests
    assert request.run_key == f"drift-{event}"
    assert request.tags["bh_pricing/drift_evidence"] == "realized_errors", request.tags


def materialize_in_run(instance, run_id: str, key: str, batch: str, **metadata) -> int:
    """Record a materialization of ``key`` for ``batch`` written by run ``run_id``; its id."""
    instance.add_dynamic_partitions("market_batches", [batch])
    materialization = dg.AssetMaterialization(key, partition=batch, metadata=metadata)
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=check_market_batch.name,
        event_specific_data=StepMaterializationData(materialization),
    )
    instance.report_dagster_event(event, run_id=run_id)
    return instance.fetch_materializations(dg.AssetKey(key), limit=1).records[0].storage_id


def test_evidence_waits_for_its_check_run_to_finish_and_gives_one_run(instance) -> None:
    # given a check run still going on, which has written a drifted report but not yet its
    # degraded realized errors
    run = create_run_for_test(
        instance, job_name=check_market_batch.name, status=DagsterRunStatus.STARTED
    )
    materialize_in_run(instance, run.run_id, "drift_report", "b1.csv", drift_detected=True)
    # when the sensor ticks, then it waits, and its cursor does not move past the run's events
    waiting = retraining_tick(instance)
    assert isinstance(waiting, dg.SkipReason), "evidence of an unfinished run waits"
    assert f"finished run (run {run.run_id} running)" in waiting.skip_message, waiting.skip_message
    # and once the run has written both and finished
    event = materialize_in_run(instance, run.run_id, "realized_errors", "b1.csv", degraded=True)
    instance.handle_run_event(
        run.run_id,
        DagsterEvent(
            event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=check_market_batch.name
        ),
    )
    result = retraining_tick(instance)
    # then one retraining carries both, and nothing is left to wait for the cooldown
    (request,) = result.run_requests
    assert request.run_key == f"drift-{event}"
    assert request.tags["bh_pricing/drift_reports"] == "b1.csv", request.tags
    assert request.tags["bh_pricing/degraded_batches"] == "b1.csv", request.tags
    assert RetrainCursor.parse(result.cursor).storage_id == event


def test_evidence_after_an_unfinished_run_waits_with_it(instance) -> None:
    # given a finished drifted report, then one from a run still going on, then a runless one
    first = report(instance, "b1.csv", drift=True)
    run = create_run_for_test(
        instance, job_name=check_market_batch.name, status=DagsterRunStatus.STARTED
    )
    materialize_in_run(instance, run.run_id, "drift_report", "b2.csv", drift_detected=True)
    report(instance, "b3.csv", drift=True)
    # when the sensor ticks, then only the evidence before the unfinished run is handled
    (request,) = retraining_tick(instance).run_requests
    assert request.run_key == f"drift-{first}"
    assert request.tags["bh_pricing/drift_reports"] == "b1.csv", request.tags


def test_a_tick_reading_part_of_the_new_events_skips_none(instance, monkeypatch) -> None:
    # given more new drift reports than one tick reads, and realized errors around them
    monkeypatch.setattr(retraining, "FETCH_LIMIT", 2)
    realized(instance, "b1.csv", degraded=False)
    for batch in ("b1.csv", "b2.csv", "b3.csv"):
        report(instance, batch, drift=False)
    last = realized(instance, "b3.csv", degraded=True)
    # when the sensor ticks twice
    first = retraining_tick(instance)
    assert not first.run_requests, "the degraded batch lies beyond what the first tick read"
    second = retraining_tick(instance, cursor=first.cursor)
    # then the degraded realized errors are not skipped
    (request,) = second.run_requests
    assert request.run_key == f"drift-{last}"
    assert RetrainCursor.parse(second.cursor).storage_id == last
