"""Monitoring: synthetic shifts and their drift (``defs``); landed market batches, their drift
reports and retraining on drift (``batch_defs``, dynamically partitioned by batch).

The partitioned assets live in their own code location (``bh_pricing.batch_definitions``) so
that the main graph stays materializable in one go with ``--select '*'``; they read the main
graph's assets (test and train listings, the champion) through the shared I/O manager.
"""

import dagster as dg

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES, market_batches
from bh_pricing.assets.monitoring.drift import NO_DRIFT_CHECK, drift_report, shifted_listings_drift
from bh_pricing.assets.monitoring.retraining import retrained_model
from bh_pricing.assets.monitoring.shifted import (
    drop_shifted_batch,
    shifted_batch_file,
    shifted_listings,
)

__all__ = ["BATCH_ASSETS", "MARKET_BATCHES", "NO_DRIFT_CHECK", "batch_defs", "defs"]

defs = dg.Definitions(
    assets=[shifted_listings, shifted_batch_file, shifted_listings_drift],
    jobs=[drop_shifted_batch],
)

# Assets of the main code location that batch assets depend on.
MAIN_GRAPH_INPUTS = ("train_listings", "test_listings", "champion_model")

BATCH_ASSETS = [market_batches, drift_report, retrained_model]

batch_defs = dg.Definitions(
    assets=[
        *BATCH_ASSETS,
        *(
            dg.AssetSpec(key, description="Defined in bh_pricing.definitions")
            for key in MAIN_GRAPH_INPUTS
        ),
    ],
)
