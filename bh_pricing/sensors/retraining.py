"""``retraining_sensor``: when a drift report flags drift, or a batch's realized errors show the
champion degraded, re-materialize the training graph.

Retraining is a run of the graph's own assets (``retrain_on_drift``): ``train_listings`` /
``test_listings`` (which now hold the drifted batch), the candidates, ``champion_model`` and
``serving_bundle``, so the latest ``champion_model`` always names the registry's champion and the
bundle follows it in the same run.

Evidence is a ``drift_report`` materialization with ``drift_detected`` or a ``realized_errors``
one with ``degraded``, both True, read once the run that wrote it has finished (so the two
results of one check run are one piece of evidence). The cursor (kept by the Dagster instance,
so it survives restarts) holds the last materialization of either handled (event storage ids are
global to the instance, so one id orders both) and when a retraining was last requested.
Within the cooldown, evidence waits; after it, one run is requested for the latest, with every
waiting piece of evidence in its tags. ``run_key`` is the evidence's event id, so one result
never launches two runs.
"""

import json
import math
import time
from dataclasses import asdict, dataclass

import dagster as dg

from bh_pricing.assets.registry import champion_model
from bh_pricing.assets.serving import serving_bundle
from bh_pricing.assets.training import CANDIDATE_ASSETS
from bh_pricing.resources import MonitoringSettings
from bh_pricing.sensors.cadence import EVERY_DAEMON_PASS

RETRAINING_SELECTION = dg.AssetSelection.assets(
    "train_listings", "test_listings", *CANDIDATE_ASSETS, champion_model, serving_bundle
)
# Folds of the candidates' CV in a retraining run: three instead of five keep a landed batch
# within a minute of being served; the decision itself is made on the holdout, not on CV.
RETRAIN_FOLDS = 3

DRIFT_REPORT = dg.AssetKey("drift_report")
REALIZED_ERRORS = dg.AssetKey("realized_errors")
# Per evidence asset, the boolean metadata that makes a materialization drift evidence.
EVIDENCE_FLAGS = {DRIFT_REPORT: "drift_detected", REALIZED_ERRORS: "degraded"}
# Materializations read per asset and tick; the rest are read at the next tick.
FETCH_LIMIT = 1000
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
    """Last evidence event handled (``drift_report`` or ``realized_errors``), and the time of
    the last retraining request."""

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


def _partitions(records: list[dg.EventLogRecord], key: dg.AssetKey) -> str:
    return ",".join(str(r.partition_key) for r in records if r.asset_key == key) or "none"


def evidence_tags(drifted: list[dg.EventLogRecord]) -> dict[str, str]:
    """Run tags describing the evidence that triggered the run (the latest first): which asset
    (``drift_evidence``), its batch, event and run, the drifted tests (``realized_errors`` for
    realized evidence), the bias, and every waiting drift report and degraded batch."""
    latest = drifted[-1]
    if latest.asset_key == REALIZED_ERRORS:
        median_log_error = _value(latest, "champion_median_log_error")
        bias = None if median_log_error is None else math.expm1(float(median_log_error))
        increase = _value(latest, "mape_increase")
        tests = "realized_errors" + ("" if increase is None else f" (MAPE {increase:+.0%})")
    else:
        bias = _value(latest, "residual_bias.current_bias")
        tests = str(_value(latest, "drifted_tests"))
    return {
        f"{TAG_PREFIX}drift_evidence": latest.asset_key.to_user_string(),
        f"{TAG_PREFIX}drift_batch": str(latest.partition_key),
        f"{TAG_PREFIX}drift_event": str(latest.storage_id),
        f"{TAG_PREFIX}drift_run": latest.run_id,
        f"{TAG_PREFIX}drift_tests": tests,
        f"{TAG_PREFIX}drift_bias": "n/a" if bias is None else f"{bias:+.1%}",
        f"{TAG_PREFIX}drift_reports": _partitions(drifted, DRIFT_REPORT),
        f"{TAG_PREFIX}degraded_batches": _partitions(drifted, REALIZED_ERRORS),
    }


@dataclass(frozen=True)
class NewEvidence:
    """The new evidence events a tick may handle, in event order, and the run whose events wait
    because it has not finished (None when none waits)."""

    records: list[dg.EventLogRecord]
    waiting_for_run: str | None = None


def new_evidence_records(instance: dg.DagsterInstance, after_storage_id: int) -> NewEvidence:
    """Materializations of ``drift_report`` and ``realized_errors`` after the cursor, in event
    order, up to the first one written by a run that has not finished yet.

    A check run writes ``drift_report`` and ``realized_errors`` a moment apart: a tick between
    the two would request a retraining for the first and leave the second waiting for the
    cooldown, which would then launch a second retraining for the same batch. Waiting for the
    run to finish gives one retraining with both as evidence. Runless events (reported from
    outside a run) count as finished. When either asset has more than ``FETCH_LIMIT`` new
    events, only the events up to the last one read of it are returned, so none is skipped.
    """
    records: list[dg.EventLogRecord] = []
    horizon: int | None = None
    for key in EVIDENCE_FLAGS:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id),
            limit=FETCH_LIMIT,
            ascending=True,
        )
        records.extend(result.records)
        if result.has_more:
            last = result.records[-1].storage_id
            horizon = last if horizon is None else min(horizon, last)
    records.sort(key=lambda r: r.storage_id)
    read = [r for r in records if horizon is None or r.storage_id <= horizon]
    finished: dict[str, bool] = {}
    for index, record in enumerate(read):
        if record.run_id not in finished:
            run = instance.get_run_by_id(record.run_id) if record.run_id else None
            finished[record.run_id] = run is None or run.is_finished
        if not finished[record.run_id]:
            return NewEvidence(read[:index], waiting_for_run=record.run_id)
    return NewEvidence(read)


def is_evidence(record: dg.EventLogRecord) -> bool:
    """A drifted drift report or degraded realized errors."""
    return _value(record, EVIDENCE_FLAGS[record.asset_key]) is True


@dg.sensor(
    job=retrain_on_drift,
    minimum_interval_seconds=EVERY_DAEMON_PASS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def retraining_sensor(
    context: dg.SensorEvaluationContext, monitoring: MonitoringSettings
) -> dg.SensorResult | dg.SkipReason:
    """Request a retraining for the latest evidence of drift, at most once per cooldown."""
    cursor = RetrainCursor.parse(context.cursor)
    new = new_evidence_records(context.instance, cursor.storage_id)
    records = new.records
    if not records:
        waiting = "" if new.waiting_for_run is None else f" (run {new.waiting_for_run} running)"
        return dg.SkipReason(f"no new drift report or realized errors from a finished run{waiting}")
    drifted = [r for r in records if is_evidence(r)]
    handled = RetrainCursor(records[-1].storage_id, cursor.requested_at)
    if not drifted:
        return dg.SensorResult(
            skip_reason=f"{len(records)} new drift report(s) or realized errors, none with drift "
            "or degradation",
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
    evidence = latest.asset_key.to_user_string()
    context.log.info(f"{evidence} of {latest.partition_key}: requesting a retraining")
    return dg.SensorResult(
        run_requests=[request], cursor=RetrainCursor(handled.storage_id, time.time()).dump()
    )
