"""The batch code location: landed market batches, their drift reports, retraining on drift."""

import dagster as dg

from bh_pricing import sensors
from bh_pricing.assets import monitoring
from bh_pricing.execution import forkserver_executor
from bh_pricing.resources import build_resources

defs = dg.Definitions.merge(
    monitoring.batch_defs,
    sensors.defs,
    dg.Definitions(
        resources=build_resources(),
        executor=forkserver_executor("bh_pricing.batch_definitions"),
    ),
)
