"""Sensors: landed batches become partitions; drift triggers retraining."""

import dagster as dg

from bh_pricing.sensors.landing import landing_sensor
from bh_pricing.sensors.retraining import retraining_sensor

defs = dg.Definitions(sensors=[landing_sensor, retraining_sensor])
