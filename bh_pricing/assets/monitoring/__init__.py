"""Monitoring: landed market batches, drift reports, synthetic shifts and retraining on drift."""

import dagster as dg

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES, market_batches
from bh_pricing.assets.monitoring.drift import NO_DRIFT_CHECK, drift_report, shifted_listings_drift
from bh_pricing.assets.monitoring.retraining import retrained_model
from bh_pricing.assets.monitoring.shifted import (
    drop_shifted_batch,
    shifted_batch_file,
    shifted_listings,
)

__all__ = ["MARKET_BATCHES", "NO_DRIFT_CHECK", "defs"]

defs = dg.Definitions(
    assets=[
        market_batches,
        drift_report,
        retrained_model,
        shifted_listings,
        shifted_batch_file,
        shifted_listings_drift,
    ],
    jobs=[drop_shifted_batch],
)
