"""Sensors: landed batches become partitions; drift triggers retraining (batch location);
a successful retraining refreshes the serving bundle (main location)."""

import dagster as dg

from bh_pricing.sensors.landing import landing_sensor
from bh_pricing.sensors.publishing import publish_after_retraining
from bh_pricing.sensors.retraining import retraining_sensor

defs = dg.Definitions(sensors=[landing_sensor, retraining_sensor])
publishing_defs = dg.Definitions(sensors=[publish_after_retraining])
