"""The code location: assembles each group's definitions with the chosen resource set."""

import dagster as dg

from bh_pricing import sensors
from bh_pricing.assets import ingest, monitoring, preparation, registry, serving, training
from bh_pricing.resources import build_resources

# Steps run in parallel processes forked from a server that has already imported the code
# location, so a step starts in milliseconds instead of re-importing MLflow and scikit-learn.
executor = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["bh_pricing.definitions"]}}}
)

defs = dg.Definitions.merge(
    ingest.defs,
    preparation.defs,
    training.defs,
    registry.defs,
    serving.defs,
    monitoring.defs,
    sensors.defs,
    dg.Definitions(resources=build_resources(), executor=executor),
)
