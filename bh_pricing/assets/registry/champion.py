"""``champion_model``: score every candidate and the current champion on the test listings.

The best candidate is registered as a new version of ``bh-pricing``; the ``champion`` alias moves
only when it beats the current champion by the configured margin, otherwise it becomes
``challenger``.
"""

from dataclasses import dataclass
from typing import Literal

import dagster as dg
import mlflow
import pandas as pd
from pydantic import Field

from bh_pricing.assets.training.candidates import CANDIDATE_KEYS, CandidateRun
from bh_pricing.constants import CHAMPION_ALIAS, CHAMPION_URI, REGISTERED_MODEL_NAME, REGISTRY
from bh_pricing.core.evaluation import regression_metrics, residuals_by_neighborhood
from bh_pricing.core.models import split_features_target
from bh_pricing.core.plots import predicted_vs_actual
from bh_pricing.core.promotion import PromotionDecision, decide_promotion
from bh_pricing.io import registry
from bh_pricing.io.model_logging import interval_metrics, predicted_prices
from bh_pricing.resources import MlflowTracking


@dataclass(frozen=True)
class ChampionResult:
    """The version registered by this run, the alias it got, and the test scores."""

    version: str
    alias: str
    candidate: str
    model_uri: str
    test_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None


class PromotionConfig(dg.Config):
    """How a new model is compared with the champion."""

    metric: Literal["rmse", "mae", "mape"] = Field(default="rmse", description="Lower is better")
    margin: float = Field(default=0.01, ge=0, lt=1, description="Relative improvement needed")
    policy: Literal["auto", "manual"] = Field(
        default="auto", description="manual: a winner only becomes challenger"
    )


def score(model_uri: str, test: pd.DataFrame) -> tuple[dict[str, float], pd.Series]:
    """Load a model through the pyfunc contract and score it on ``test`` (with the coverage of
    its prediction interval, when it has one)."""
    X, y = split_features_target(test)
    output = mlflow.pyfunc.load_model(model_uri).predict(X)
    predictions = pd.Series(predicted_prices(output), index=test.index)
    return regression_metrics(y, predictions.to_numpy()) | interval_metrics(output, y), predictions


@dg.asset(
    group_name=REGISTRY,
    kinds={"mlflow"},
    ins={key.path[-1]: dg.AssetIn(key) for key in CANDIDATE_KEYS},
)
def champion_model(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowTracking,
    test_listings: pd.DataFrame,
    **candidates: CandidateRun,
) -> dg.MaterializeResult[ChampionResult]:
    """Register the best candidate; move ``champion`` only if it beats the current one."""
    client = mlflow.client()
    scored = {c.name: (c, *score(c.model_uri, test_listings)) for c in candidates.values()}
    table = pd.DataFrame({name: m for name, (_, m, _) in scored.items()}).T
    best_name = table[config.metric].idxmin()
    best, best_metrics, best_predictions = scored[best_name]

    current = registry.version_by_alias(client, CHAMPION_ALIAS)
    champion_metrics = score(CHAMPION_URI, test_listings)[0] if current else None
    if champion_metrics is not None:
        table.loc[f"current champion (v{current.version})"] = champion_metrics
    decision = decide_promotion(
        best_metrics[config.metric],
        None if champion_metrics is None else champion_metrics[config.metric],
        config.margin,
        config.policy,
    )
    version = registry.register(client, best.model_uri, _version_tags(context, best, decision))
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, decision.alias, version.version)
    for key, value in best_metrics.items():
        client.log_metric(best.run_id, f"test_{key}", value)
    client.set_tag(best.run_id, "promotion", f"v{version.version} -> {decision.alias}")
    context.log.info(f"{best_name} registered as version {version.version}: {decision.reason}")

    residuals = residuals_by_neighborhood(test_listings, best_predictions.to_numpy())
    return dg.MaterializeResult(
        value=ChampionResult(
            version.version,
            decision.alias,
            best_name,
            best.model_uri,
            best_metrics,
            champion_metrics,
        ),
        metadata={
            "registered_model": REGISTERED_MODEL_NAME,
            "version": int(version.version),
            "alias": decision.alias,
            "promoted": decision.promote,
            "decision": decision.reason,
            "candidate": best_name,
            f"candidate_test_{config.metric}": round(decision.candidate_score, 2),
            f"champion_test_{config.metric}": (
                -1.0 if decision.champion_score is None else round(decision.champion_score, 2)
            ),
            **{
                f"test_{k}": round(best_metrics[k], 4)
                for k in ("interval_coverage", "interval_mean_width")
                if k in best_metrics
            },
            "test_scores": dg.MetadataValue.md(table.round(4).to_markdown()),
            "predicted_vs_actual": dg.MetadataValue.md(
                predicted_vs_actual(
                    test_listings["price"].to_numpy(),
                    best_predictions.to_numpy(),
                    f"{best_name} on test_listings",
                )
            ),
            "residuals_by_neighborhood": dg.MetadataValue.md(
                residuals.round(3).to_markdown(index=False)
            ),
            "mlflow_run_id": best.run_id,
        },
    )


def _version_tags(
    context: dg.AssetExecutionContext, best: CandidateRun, decision: PromotionDecision
) -> dict[str, str]:
    return {
        "candidate": best.name,
        "dagster_run_id": context.run.run_id,
        "decision": decision.alias,
        "decision_reason": decision.reason,
        "candidate_score": f"{decision.candidate_score:.4f}",
        "champion_score": (
            "none" if decision.champion_score is None else f"{decision.champion_score:.4f}"
        ),
    }
