"""Monitoring: synthetic shifts and their drift, landed market batches (dynamically partitioned,
one partition per CSV), their drift reports and the realized errors of the predictions served
for their listings.

A batch whose drift report ran joins ``train_listings`` / ``test_listings``; retraining is a run
of the training assets themselves (``bh_pricing.sensors.retraining``).
"""

import dagster as dg

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES, market_batches
from bh_pricing.assets.monitoring.drift import NO_DRIFT_CHECK, drift_report, shifted_listings_drift
from bh_pricing.assets.monitoring.prediction_drift import NO_INPUT_DRIFT_CHECK, prediction_drift
from bh_pricing.assets.monitoring.realized import REALIZED_ERRORS_CHECK, realized_errors
from bh_pricing.assets.monitoring.shifted import (
    drop_shifted_batch,
    shifted_batch_file,
    shifted_listings,
)

__all__ = [
    "BATCH_ASSETS",
    "MARKET_BATCHES",
    "NO_DRIFT_CHECK",
    "NO_INPUT_DRIFT_CHECK",
    "REALIZED_ERRORS_CHECK",
    "defs",
]

BATCH_ASSETS = [market_batches, drift_report, realized_errors]

defs = dg.Definitions(
    assets=[
        shifted_listings,
        shifted_batch_file,
        shifted_listings_drift,
        prediction_drift,
        *BATCH_ASSETS,
    ],
    jobs=[drop_shifted_batch],
)
