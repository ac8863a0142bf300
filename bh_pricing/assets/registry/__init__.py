"""Registry: pick the best candidate, register it in MLflow and move the aliases."""

import dagster as dg

from bh_pricing.assets.registry.champion import champion_model

defs = dg.Definitions(assets=[champion_model])
