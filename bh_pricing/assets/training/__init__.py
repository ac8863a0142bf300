"""Training: the MLflow experiment, and one asset per candidate model (one MLflow run each)."""

import dagster as dg

from bh_pricing.assets.training.candidates import CANDIDATE_ASSETS
from bh_pricing.assets.training.experiment import mlflow_experiment

defs = dg.Definitions(assets=[mlflow_experiment, *CANDIDATE_ASSETS])
