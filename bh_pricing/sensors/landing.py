"""``landing_sensor``: every new CSV in the landing location becomes a ``market_batches`` partition.

The partitions themselves are the sensor's memory (kept by the Dagster instance), so a restart
neither forgets a batch nor registers one twice; ``run_key`` = the file name makes each batch's
check run once.
"""

import dagster as dg

from bh_pricing.assets.monitoring import MARKET_BATCHES
from bh_pricing.assets.monitoring.batches import landed_batches
from bh_pricing.resources import Locations

check_market_batch = dg.define_asset_job(
    "check_market_batch",
    selection=dg.AssetSelection.assets("market_batches", "drift_report"),
    description="Clean a landed batch and test it for drift against the champion's reference.",
)


@dg.sensor(
    job=check_market_batch,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(
    context: dg.SensorEvaluationContext, locations: Locations
) -> dg.SensorResult | dg.SkipReason:
    """Register new landed CSVs as partitions and request their drift check."""
    keys, invalid = landed_batches(locations.landing_uri)
    if invalid:
        context.log.warning(f"ignoring files whose names cannot be partition keys: {invalid}")
    known = set(context.instance.get_dynamic_partitions(MARKET_BATCHES.name))
    new = [key for key in keys if key not in known]
    if not new:
        ignored = f" ({len(invalid)} ignored, see the log)" if invalid else ""
        return dg.SkipReason(f"no new CSV in {locations.landing_uri}{ignored}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=key, partition_key=key) for key in new],
        dynamic_partitions_requests=[MARKET_BATCHES.build_add_request(new)],
    )
