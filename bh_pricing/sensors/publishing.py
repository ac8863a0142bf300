"""``publish_after_retraining``: re-export the serving bundle when a retraining run succeeds.

Retraining runs in the batch code location and may move the ``champion`` alias; the bundle is an
asset of the main location, so this run-status sensor watches every code location and launches
``publish_champion`` once per successful ``retrain_on_drift`` run (``run_key`` = that run's id).
``serving_bundle`` itself decides whether the champion changed and only then exports.
"""

import dagster as dg

RETRAIN_JOB = "retrain_on_drift"

publish_champion = dg.define_asset_job(
    "publish_champion",
    selection=dg.AssetSelection.assets("serving_bundle"),
    description="Export the current champion as the serving bundle (after parity).",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=True,
    request_job=publish_champion,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
)
def publish_after_retraining(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    """One bundle refresh per successful retraining run."""
    run = context.dagster_run
    if run.job_name != RETRAIN_JOB:
        return dg.SkipReason(f"{run.job_name} is not {RETRAIN_JOB}")
    return dg.RunRequest(run_key=run.run_id, tags={"bh_pricing/after_retraining_run": run.run_id})
