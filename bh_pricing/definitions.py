"""The main code location: assembles each group's definitions with the chosen resource set.

Dynamically partitioned batch assets and the landing and retraining sensors live in
``bh_pricing.batch_definitions``.
"""

import dagster as dg

from bh_pricing import sensors
from bh_pricing.assets import ingest, monitoring, preparation, registry, serving, training
from bh_pricing.execution import forkserver_executor
from bh_pricing.resources import build_resources

defs = dg.Definitions.merge(
    ingest.defs,
    preparation.defs,
    training.defs,
    registry.defs,
    serving.defs,
    monitoring.defs,
    sensors.publishing_defs,
    dg.Definitions(
        resources=build_resources(), executor=forkserver_executor("bh_pricing.definitions")
    ),
)
