"""Sensors: landed batches become partitions and get their drift check; drift re-materializes
the training graph down to the serving bundle."""

import dagster as dg

from bh_pricing.sensors.landing import check_market_batch, landing_sensor
from bh_pricing.sensors.retraining import retrain_on_drift, retraining_sensor

defs = dg.Definitions(
    sensors=[landing_sensor, retraining_sensor], jobs=[check_market_batch, retrain_on_drift]
)
