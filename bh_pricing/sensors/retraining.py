"""``retraining_sensor``: when a drift report flags drift, re-materialize the training graph.

Retraining is a run of the graph's own assets (``retrain_on_drift``): ``train_listings`` /
``test_listings`` (which now hold the drifted batch), the candidates, ``champion_model`` and
``serving_bundle``, so the latest ``champion_model`` always names the registry's champion and the
bundle follows it in the same run.

The cursor (kept by the Dagster instance, so it survives restarts) holds the last drift report
handled and when a retraining was last requested. Within the cooldown, drifted reports wait; after
it, one run is requested for the latest of them, with every waiting report as evidence in its
tags. ``run_key`` is the drift report's event id, so one drift result never launches two runs.
"""

import json
import time
from dataclasses import asdict, dataclass

import dagster as dg

from bh_pricing.assets.registry import champion_model
from bh_pricing.assets.serving import serving_bundle
from bh_pricing.assets.training import CANDIDATE_ASSETS
from bh_pricing.resources import MonitoringSettings

RETRAINING_SELECTION = dg.AssetSelection.assets(
    "train_listings", "test_listings", *CANDIDATE_ASSETS, champion_model, serving_bundle
)
# Folds of the candidates' CV in a retraining run: three instead of five keep a landed batch
# within a minute of being served; the decision itself is made on the holdout, not on CV.
RETRAIN_FOLDS = 3

DRIFT_REPORT = dg.AssetKey("drift_report")
TAG_PREFIX = "bh_pricing/"

retrain_on_drift = dg.define_asset_job(
    "retrain_on_drift",
    selection=RETRAINING_SELECTION,
    description=(
        "Re-materialize the training data (with every accepted batch), the candidates, "
        "champion_model and serving_bundle."
    ),
)


@dataclass(frozen=True)
class RetrainCursor:
    """Last drift report event handled, and the time of the last retraining request."""

    storage_id: int = 0
    requested_at: float = 0.0

    @classmethod
    def parse(cls, text: str | None) -> "RetrainCursor":
        """The cursor stored by a previous tick (empty on the first)."""
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        """As stored by the instance."""
        return json.dumps(asdict(self))


def _value(record: dg.EventLogRecord, key: str) -> object:
    entry = record.asset_materialization.metadata.get(key)
    return None if entry is None else entry.value


def evidence_tags(drifted: list[dg.EventLogRecord]) -> dict[str, str]:
    """Run tags describing the drift that triggered the run (latest report first)."""
    latest = drifted[-1]
    bias = _value(latest, "residual_bias.current_bias")
    return {
        f"{TAG_PREFIX}drift_batch": str(latest.partition_key),
        f"{TAG_PREFIX}drift_event": str(latest.storage_id),
        f"{TAG_PREFIX}drift_run": latest.run_id,
        f"{TAG_PREFIX}drift_tests": str(_value(latest, "drifted_tests")),
        f"{TAG_PREFIX}drift_bias": "n/a" if bias is None else f"{bias:+.1%}",
        f"{TAG_PREFIX}drift_reports": ",".join(str(r.partition_key) for r in drifted),
    }


@dg.sensor(
    job=retrain_on_drift,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def retraining_sensor(
    context: dg.SensorEvaluationContext, monitoring: MonitoringSettings
) -> dg.SensorResult | dg.SkipReason:
    """Request a retraining for the latest drifted batch, at most once per cooldown."""
    cursor = RetrainCursor.parse(context.cursor)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DRIFT_REPORT, after_storage_id=cursor.storage_id),
        limit=1000,
        ascending=True,
    ).records
    if not records:
        return dg.SkipReason("no new drift report")
    drifted = [r for r in records if _value(r, "drift_detected") is True]
    handled = RetrainCursor(records[-1].storage_id, cursor.requested_at)
    if not drifted:
        return dg.SensorResult(
            skip_reason=f"{len(records)} new drift report(s), none with drift",
            cursor=handled.dump(),
        )
    wait = cursor.requested_at + monitoring.retrain_cooldown_seconds - time.time()
    if wait > 0:
        return dg.SkipReason(
            f"{len(drifted)} drifted batch(es) wait for the cooldown ({wait:.0f} s)"
        )
    latest = drifted[-1]
    request = dg.RunRequest(
        run_key=f"drift-{latest.storage_id}",
        tags={**evidence_tags(drifted), f"{TAG_PREFIX}policy": monitoring.promotion_policy},
        run_config={
            "ops": {
                asset.key.to_user_string(): {"config": {"folds": RETRAIN_FOLDS}}
                for asset in CANDIDATE_ASSETS
            }
        },
    )
    context.log.info(f"drift in {latest.partition_key}: requesting a retraining")
    return dg.SensorResult(
        run_requests=[request], cursor=RetrainCursor(handled.storage_id, time.time()).dump()
    )
