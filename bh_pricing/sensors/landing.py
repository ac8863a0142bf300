"""``landing_sensor``: every complete, new CSV in the landing location becomes a
``market_batches`` partition with one check run (drift report and realized errors).

The intake rules (completeness across two ticks or a ``.done`` marker, content-keyed batches,
hidden files skipped) are ``bh_pricing.io.landing.plan_intake``; the sensor cursor keeps its
observations and the content hashes taken, and ``run_key`` is the content hash, so one batch
content launches exactly one check run. Files not taken are named with their reason in the
tick's skip reason (all of them in the tick's log).
"""

import dagster as dg

from bh_pricing.assets.monitoring import BATCH_ASSETS, MARKET_BATCHES
from bh_pricing.io import storage
from bh_pricing.io.landing import (
    BATCH_FILE_TAG,
    BATCH_SHA256_TAG,
    Intake,
    IntakeCursor,
    plan_intake,
)
from bh_pricing.resources import Locations
from bh_pricing.sensors.cadence import EVERY_DAEMON_PASS

check_market_batch = dg.define_asset_job(
    "check_market_batch",
    selection=dg.AssetSelection.assets(*BATCH_ASSETS),
    description="Clean a landed batch, test it for drift against the champion's reference and "
    "measure the realized errors of the predictions served for its listings.",
    # Its steps take a second or two each: run them in the run's own process rather than paying
    # a step process apiece (the drift report is on the latency path from landing to retraining).
    executor_def=dg.in_process_executor,
)


def _skip_message(landing_uri: str, intake: Intake) -> str:
    """The files that need attention, each with its reason; settled ones counted."""
    pending = [f"{s.name}: {s.reason}" for s in intake.skipped if not s.settled]
    settled = sum(s.settled for s in intake.skipped)
    counted = f"{settled} already registered or markers" if settled else ""
    return f"no new batch in {landing_uri}" + "".join(
        f"; {part}" for part in [*pending, counted] if part
    )


@dg.sensor(
    job=check_market_batch,
    minimum_interval_seconds=EVERY_DAEMON_PASS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: dg.SensorEvaluationContext, locations: Locations) -> dg.SensorResult:
    """Register complete new landed CSVs as partitions and request their drift check."""
    landing = locations.landing_uri
    intake = plan_intake(
        storage.list_file_infos(landing),
        IntakeCursor.parse(context.cursor),
        set(context.instance.get_dynamic_partitions(MARKET_BATCHES.name)),
        read=lambda info: storage.read_bytes(info.uri),
    )
    for skipped in intake.skipped:
        context.log.info(f"{landing}: not taking {skipped.name}: {skipped.reason}")
    cursor = intake.cursor.dump()
    if not intake.batches:
        return dg.SensorResult(skip_reason=_skip_message(landing, intake), cursor=cursor)
    for batch in intake.batches:
        context.log.info(f"{landing}: new batch {batch.key} (sha256 {batch.sha256})")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"sha256:{batch.sha256}",
                partition_key=batch.key,
                tags={BATCH_FILE_TAG: batch.name, BATCH_SHA256_TAG: batch.sha256},
            )
            for batch in intake.batches
        ],
        dynamic_partitions_requests=[
            MARKET_BATCHES.build_add_request([batch.key for batch in intake.batches])
        ],
        cursor=cursor,
    )
