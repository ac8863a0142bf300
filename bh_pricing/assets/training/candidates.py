"""Candidate model assets, generated from ``bh_pricing.core.models.CANDIDATES``.

Each asset hands ``train_listings`` to ``bh_pricing.lifecycle.train_and_log`` (one MLflow run,
sample weights included) and shows the run in its metadata.
"""

import dagster as dg
import pandas as pd

from bh_pricing.constants import TRAINING
from bh_pricing.core.models import CANDIDATES, CandidateSpec
from bh_pricing.core.recency import BATCH_COLUMN
from bh_pricing.lifecycle import CandidateRun, describe_trigger, run_name, train_and_log
from bh_pricing.resources import MlflowTracking


class TrainingConfig(dg.Config):
    """Cross-validation folds and seed used for the reported metrics and any search."""

    folds: int = 5
    seed: int = 42


def candidate_asset_key(name: str) -> str:
    """Asset key of a candidate (``baseline`` -> ``baseline_model``)."""
    return f"{name}_model"


def build_candidate_asset(spec: CandidateSpec) -> dg.AssetsDefinition:
    """An asset that trains ``spec`` on ``train_listings``."""

    @dg.asset(
        name=candidate_asset_key(spec.name),
        group_name=TRAINING,
        kinds={"scikitlearn", "mlflow"},
        description=spec.description,
        deps=["mlflow_experiment"],
    )
    def _candidate(
        context: dg.AssetExecutionContext,
        config: TrainingConfig,
        mlflow: MlflowTracking,
        train_listings: pd.DataFrame,
    ) -> dg.MaterializeResult[CandidateRun]:
        batches = list(train_listings[BATCH_COLUMN].unique())
        trigger = describe_trigger(context.run.tags, batches)
        experiment_id = mlflow.experiment_id()
        candidate, search = train_and_log(
            spec,
            train_listings,
            experiment_id=experiment_id,
            tags=mlflow.run_tags(context),
            trigger=trigger,
            folds=config.folds,
            seed=config.seed,
        )
        metadata: dict[str, object] = {
            "mlflow_run_id": candidate.run_id,
            "mlflow_run_name": run_name(spec.name, trigger),
            "model_uri": candidate.model_uri,
            "trigger": trigger,
            "train_rows": len(train_listings),
            "batches": ", ".join(batches),
            **{k: round(v, 4) for k, v in candidate.cv_metrics.items()},
            "params": dg.MetadataValue.json(candidate.params),
            **mlflow.run_link(candidate.run_id, experiment_id),
        }
        if search is not None:
            metadata["search_trials"] = len(search)
            metadata["search_top10"] = dg.MetadataValue.md(search.head(10).to_markdown(index=False))
        return dg.MaterializeResult(value=candidate, metadata=metadata)

    return _candidate


CANDIDATE_ASSETS = [build_candidate_asset(spec) for spec in CANDIDATES.values()]
CANDIDATE_KEYS = [dg.AssetKey(candidate_asset_key(name)) for name in CANDIDATES]
