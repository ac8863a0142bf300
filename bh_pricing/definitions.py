"""The one code location: every group's assets, the sensors and the chosen resource set.

Definitions are built when Dagster loads the location (``@dg.definitions``), so the resource set
(``BH_PRICING_ENV``) and its settings are read then, never at import.
"""

import dagster as dg

from bh_pricing import sensors
from bh_pricing.assets import ingest, monitoring, preparation, registry, serving, training
from bh_pricing.execution import forkserver_executor
from bh_pricing.jobs import build_graph
from bh_pricing.resources import build_resources


@dg.definitions
def defs() -> dg.Definitions:
    """The whole graph, its jobs and sensors, with ``build_resources()``."""
    return dg.Definitions.merge(
        ingest.defs,
        preparation.defs,
        training.defs,
        registry.defs,
        serving.defs,
        monitoring.defs,
        sensors.defs,
        dg.Definitions(
            jobs=[build_graph],
            resources=build_resources(),
            executor=forkserver_executor("bh_pricing.definitions"),
        ),
    )
