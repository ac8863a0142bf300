"""``champion_model``: the one place a model is registered and the aliases move.

Every candidate and the current champion are scored on ``test_listings`` (the holdout of the
current market, with the recency weights of the training data); ``bh_pricing.lifecycle.
promote_best`` registers the best candidate and applies the promotion rule of
``bh_pricing.core.promotion``. The materialization names the version the ``champion`` alias points
to afterwards: the new one, or the kept one with the new version as ``challenger``.
"""

from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.assets.training.candidates import CANDIDATE_KEYS
from bh_pricing.constants import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, REGISTRY
from bh_pricing.core.evaluation import residuals_by_neighborhood
from bh_pricing.core.plots import predicted_vs_actual
from bh_pricing.core.promotion import PromotionPolicy, PromotionRule
from bh_pricing.lifecycle import CandidateRun, ChampionResult, promote_best
from bh_pricing.resources import MlflowTracking, MonitoringSettings


class PromotionConfig(dg.Config):
    """How a new model is compared with the champion (``bh_pricing.core.promotion``)."""

    metric: Literal["rmse", "mae", "mape"] = Field(default="rmse", description="Lower is better")
    margin: float = Field(default=0.01, ge=0, lt=1, description="Relative improvement needed")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Level of the paired test")
    min_rows: int = Field(default=30, ge=1, description="Smallest holdout that can promote")
    resamples: int = Field(default=2000, ge=100, description="Paired bootstrap resamples")
    policy: str | None = Field(
        default=None,
        description="auto or manual (a winner only becomes challenger); "
        "default: BH_PRICING_PROMOTION_POLICY",
    )

    def rule(self, default_policy: PromotionPolicy) -> PromotionRule:
        """The promotion rule these settings describe (ValueError names a bad policy)."""
        return PromotionRule(
            metric=self.metric,
            margin=self.margin,
            alpha=self.alpha,
            min_rows=self.min_rows,
            resamples=self.resamples,
            policy=self.policy or default_policy,  # type: ignore[arg-type]  # checked by the rule
        )


@dg.asset(
    group_name=REGISTRY,
    kinds={"mlflow"},
    ins={key.path[-1]: dg.AssetIn(key) for key in CANDIDATE_KEYS},
)
def champion_model(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowTracking,
    monitoring: MonitoringSettings,
    test_listings: pd.DataFrame,
    **candidates: CandidateRun,
) -> dg.MaterializeResult[ChampionResult]:
    """Register the best candidate; move ``champion`` only on evidence, else ``challenger``."""
    rule = config.rule(monitoring.promotion_policy)
    tags = {"dagster_run_id": context.run.run_id}
    outcome = promote_best(mlflow.client(), list(candidates.values()), test_listings, rule, tags)
    result = outcome.result
    kept = "" if result.alias == CHAMPION_ALIAS else f"kept champion v{result.champion_version}; "
    summary = f"{kept}v{result.version} ({result.candidate}) is {result.alias}"
    context.log.info(f"{summary}: {result.decision}")
    residuals = residuals_by_neighborhood(test_listings, outcome.predictions)
    metadata: dict[str, object] = {
        "registered_model": REGISTERED_MODEL_NAME,
        "champion_version": int(result.champion_version),
        "version": int(result.version),
        "alias": result.alias,
        "promoted": result.alias == CHAMPION_ALIAS,
        "summary": summary,
        "decision": result.decision,
        "policy": rule.policy,
        "trigger": result.trigger,
        "candidate": result.candidate,
        f"candidate_test_{rule.metric}": round(result.test_metrics[rule.metric], 4),
        **{
            f"test_{k}": round(result.test_metrics[k], 4)
            for k in ("interval_coverage", "interval_mean_width")
            if k in result.test_metrics
        },
        "test_scores": dg.MetadataValue.md(outcome.scores.round(4).to_markdown()),
        "holdout_rows": len(test_listings),
        "predicted_vs_actual": dg.MetadataValue.md(
            predicted_vs_actual(
                test_listings["price"].to_numpy(),
                outcome.predictions,
                f"{result.candidate} on test_listings",
            )
        ),
        "residuals_by_neighborhood": dg.MetadataValue.md(
            residuals.round(3).to_markdown(index=False)
        ),
        "mlflow_run_id": result.run_id,
        **mlflow.run_link(result.run_id, mlflow.experiment_id()),
        **mlflow.model_version_link(REGISTERED_MODEL_NAME, result.champion_version),
    }
    if result.previous_champion is not None:
        metadata["previous_champion"] = int(result.previous_champion)
    if result.champion_metrics is not None:
        metadata[f"champion_test_{rule.metric}"] = round(result.champion_metrics[rule.metric], 4)
    if result.p_value is not None:
        metadata["p_value"] = round(result.p_value, 4)
    return dg.MaterializeResult(value=result, metadata=metadata)
