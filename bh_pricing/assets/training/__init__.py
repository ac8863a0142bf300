"""Training: one asset per candidate model, each logged as one MLflow run."""

import dagster as dg

from bh_pricing.assets.training.candidates import CANDIDATE_ASSETS

defs = dg.Definitions(assets=CANDIDATE_ASSETS)
