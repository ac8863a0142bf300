"""Train one candidate on the (weighted) training listings and log it as one MLflow run."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version

import mlflow
import pandas as pd
from threadpoolctl import threadpool_limits

from bh_pricing.core.evaluation import CV_MAX_ROWS, cross_validate
from bh_pricing.core.models import CandidateSpec, fit_candidate, split_features_target
from bh_pricing.core.recency import BASE_BATCH, sample_weights
from bh_pricing.io.model_logging import calibrate_interval, log_pricing_model

# Run tag naming the market batch whose drift launched a retraining (set by the sensor).
DRIFT_BATCH_TAG = "bh_pricing/drift_batch"


@dataclass(frozen=True)
class CandidateRun:
    """A logged candidate: its MLflow run and model, CV metrics, parameters and trigger."""

    name: str
    run_id: str
    model_uri: str
    cv_metrics: dict[str, float]
    params: dict[str, str]
    trigger: str


def describe_trigger(run_tags: Mapping[str, str], batches: Sequence[str]) -> str:
    """What trained a model: ``retrain <batch>`` (drift), ``initial`` (only the clean listings)
    or ``manual (<n> batches)`` (a person materialized the graph with landed batches)."""
    if DRIFT_BATCH_TAG in run_tags:
        return f"retrain {run_tags[DRIFT_BATCH_TAG]}"
    landed = [b for b in batches if b != BASE_BATCH]
    return "initial" if not landed else f"manual ({len(landed)} batches)"


def run_name(candidate: str, trigger: str) -> str:
    """MLflow run name, e.g. ``comparables · retrain market-2026-12.csv``."""
    return f"{candidate} · {trigger}"


def model_requirements() -> list[str]:
    """Pinned requirements of a logged model (skips MLflow's slow requirement inference)."""
    return [
        f"{dist}=={version(dist)}"
        for dist in ("scikit-learn", "numpy", "pandas", "scipy", "mlflow")
    ]


def train_and_log(
    spec: CandidateSpec,
    train: pd.DataFrame,
    *,
    experiment_id: str,
    tags: Mapping[str, str],
    trigger: str,
    folds: int = 5,
    seed: int = 42,
) -> tuple[CandidateRun, pd.DataFrame | None]:
    """Fit, cross-validate and log ``spec`` as one MLflow run named ``run_name(...)``.

    ``train`` holds the clean columns and, when batches joined it, ``batch`` and
    ``sample_weight``: the weights reach the fit and every CV fold. The run ends FINISHED, or
    FAILED if anything raises. Returns the run and the search table (None without a search).
    """
    X, y = split_features_target(train)
    weights = sample_weights(train)
    run_tags = {**tags, "candidate": spec.name, "trigger": trigger}
    with (
        mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name(spec.name, trigger), tags=run_tags
        ) as run,
        # Candidates already run as parallel steps; nested OpenMP threads would oversubscribe
        # the cores (a 4 s boosting fit took 30 s when two steps each used every core).
        threadpool_limits(limits=1),
    ):
        fitted = fit_candidate(spec, train, folds=folds, seed=seed, sample_weight=weights)
        validation = cross_validate(fitted.estimator, X, y, folds, seed, weights)
        metrics = validation.metrics
        params = {
            "candidate": spec.name,
            "train_rows": len(train),
            "cv_rows": min(len(train), CV_MAX_ROWS),
            "sample_weighted": weights is not None,
            **fitted.params,
        }
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(metrics)
        if fitted.search_results is not None:
            buffer = io.StringIO()
            fitted.search_results.to_csv(buffer, index=False)
            mlflow.log_text(buffer.getvalue(), "search/cv_results.csv")
        interval = calibrate_interval(validation, folds)
        info = log_pricing_model(fitted.estimator, interval, X, model_requirements())
    candidate = CandidateRun(
        spec.name,
        run.info.run_id,
        info.model_uri,
        metrics,
        {k: str(v) for k, v in params.items()},
        trigger,
    )
    return candidate, fitted.search_results
