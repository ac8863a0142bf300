"""Candidate model assets, generated from ``bh_pricing.core.models.CANDIDATES``."""

import io
from dataclasses import dataclass
from importlib.metadata import version

import dagster as dg
import mlflow
import pandas as pd
from threadpoolctl import threadpool_limits

from bh_pricing.constants import TRAINING
from bh_pricing.core.evaluation import CV_MAX_ROWS, cross_validated_metrics
from bh_pricing.core.models import CANDIDATES, CandidateSpec, fit_candidate, split_features_target
from bh_pricing.io.model_logging import calibrate_interval, log_pricing_model
from bh_pricing.resources import MlflowTracking


def model_requirements() -> list[str]:
    """Pinned requirements of a logged model (skips MLflow's slow requirement inference)."""
    return [
        f"{dist}=={version(dist)}"
        for dist in ("scikit-learn", "numpy", "pandas", "scipy", "mlflow")
    ]


@dataclass(frozen=True)
class CandidateRun:
    """What a candidate asset stores: a pointer to its MLflow run and its CV metrics."""

    name: str
    run_id: str
    model_uri: str
    cv_metrics: dict[str, float]
    params: dict[str, str]


class TrainingConfig(dg.Config):
    """Cross-validation folds and seed used for the reported metrics and any search."""

    folds: int = 5
    seed: int = 42


def candidate_asset_key(name: str) -> str:
    """Asset key of a candidate (``baseline`` -> ``baseline_model``)."""
    return f"{name}_model"


def log_candidate(
    spec: CandidateSpec,
    train: pd.DataFrame,
    config: TrainingConfig,
    mlflow_resource: MlflowTracking,
    context: dg.AssetExecutionContext,
) -> tuple[CandidateRun, pd.DataFrame | None]:
    """Fit, cross-validate and log one candidate as one MLflow run."""
    X, y = split_features_target(train)
    with (
        mlflow_resource.start_run(context, spec.name, {"candidate": spec.name}) as run,
        # Candidates already run as parallel steps; nested OpenMP threads would oversubscribe
        # the cores (a 4 s boosting fit took 30 s when two steps each used every core).
        threadpool_limits(limits=1),
    ):
        fitted = fit_candidate(spec, train, folds=config.folds, seed=config.seed)
        metrics = cross_validated_metrics(fitted.estimator, X, y, config.folds, config.seed)
        params = {
            "candidate": spec.name,
            "train_rows": len(train),
            "cv_rows": min(len(train), CV_MAX_ROWS),
            **fitted.params,
        }
        mlflow_resource.log_params(params)
        mlflow.log_metrics(metrics)
        if fitted.search_results is not None:
            buffer = io.StringIO()
            fitted.search_results.to_csv(buffer, index=False)
            mlflow.log_text(buffer.getvalue(), "search/cv_results.csv")
        interval = calibrate_interval(fitted.estimator, X, y, config.folds, config.seed)
        info = log_pricing_model(fitted.estimator, interval, X, model_requirements())
    candidate = CandidateRun(
        spec.name, run.info.run_id, info.model_uri, metrics, {k: str(v) for k, v in params.items()}
    )
    return candidate, fitted.search_results


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
        candidate, search = log_candidate(spec, train_listings, config, mlflow, context)
        experiment_id = mlflow.experiment_id()
        metadata: dict[str, object] = {
            "mlflow_run_id": candidate.run_id,
            "model_uri": candidate.model_uri,
            **{k: round(v, 4) for k, v in candidate.cv_metrics.items()},
            "params": dg.MetadataValue.json(candidate.params),
        }
        url = mlflow.run_url(candidate.run_id, experiment_id)
        if url:
            metadata["mlflow_run"] = dg.MetadataValue.url(url)
        if search is not None:
            metadata["search_trials"] = len(search)
            metadata["search_top10"] = dg.MetadataValue.md(search.head(10).to_markdown(index=False))
        return dg.MaterializeResult(value=candidate, metadata=metadata)

    return _candidate


CANDIDATE_ASSETS = [build_candidate_asset(spec) for spec in CANDIDATES.values()]
CANDIDATE_KEYS = [dg.AssetKey(candidate_asset_key(name)) for name in CANDIDATES]
