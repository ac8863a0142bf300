"""The bundle is refreshed once per successful retraining run, and for nothing else."""

import uuid

import dagster as dg
import pytest

from bh_pricing.sensors.publishing import RETRAIN_JOB, publish_after_retraining


def context_for(job_name: str) -> dg.RunStatusSensorContext:
    instance = dg.DagsterInstance.ephemeral()
    run = dg.DagsterRun(job_name=job_name, run_id=uuid.uuid4().hex)
    event = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=job_name
    )
    return dg.build_run_status_sensor_context(
        sensor_name=publish_after_retraining.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
    )


def test_a_successful_retraining_requests_one_bundle_refresh():
    context = context_for(RETRAIN_JOB)
    request = publish_after_retraining(context)
    assert isinstance(request, dg.RunRequest), f"expected a run request, got {request}"
    assert request.run_key == context.dagster_run.run_id, "one refresh per retraining run"


@pytest.mark.parametrize("job", ["__ASSET_JOB", "check_market_batch", "publish_champion"])
def test_other_runs_are_skipped(job):
    result = publish_after_retraining(context_for(job))
    assert isinstance(result, dg.SkipReason), f"{job} should not refresh the bundle"


def test_the_sensor_runs_by_default():
    assert publish_after_retraining.default_status == dg.DefaultSensorStatus.RUNNING
