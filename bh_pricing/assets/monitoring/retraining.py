"""``retrained_model``: after drift, retrain the candidates with the new batch and re-decide.

Candidates are trained on the training listings, the champion's reference and the training
part of the batch; the candidate and the champion are scored on the rest of the batch, and the
usual promotion rule decides. The holdout becomes the new champion's drift reference.
"""

from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES
from bh_pricing.assets.monitoring.champion import REFERENCE_TAG, load_champion, save_reference
from bh_pricing.assets.registry.champion import ChampionResult, score
from bh_pricing.assets.training.candidates import TrainingConfig, log_candidate
from bh_pricing.constants import CHAMPION_URI, MONITORING, REGISTERED_MODEL_NAME
from bh_pricing.core.models import CANDIDATES
from bh_pricing.core.promotion import decide_promotion
from bh_pricing.io import registry
from bh_pricing.io.storage import join
from bh_pricing.monitoring.retraining import retraining_data
from bh_pricing.resources import Locations, MlflowTracking, MonitoringSettings


class RetrainingConfig(dg.Config):
    """Folds of the candidates' CV, how the batch is used, and the promotion rule."""

    folds: int = Field(default=3, ge=2)
    seed: int = 0
    holdout_share: float = Field(default=0.5, gt=0, lt=1, description="Batch share held out")
    new_weight: float = Field(default=0.5, gt=0, lt=1, description="Weight of the new rows")
    metric: Literal["rmse", "mae", "mape"] = "rmse"
    margin: float = Field(default=0.01, ge=0, lt=1)
    policy: str | None = Field(
        default=None, description="auto or manual; overrides BH_PRICING_PROMOTION_POLICY"
    )


@dg.asset(
    partitions_def=MARKET_BATCHES,
    group_name=MONITORING,
    kinds={"scikitlearn", "mlflow"},
    deps=["drift_report"],
)
def retrained_model(
    context: dg.AssetExecutionContext,
    config: RetrainingConfig,
    mlflow: MlflowTracking,
    locations: Locations,
    monitoring: MonitoringSettings,
    market_batches: pd.DataFrame,
    train_listings: pd.DataFrame,
    test_listings: pd.DataFrame,
) -> dg.MaterializeResult[ChampionResult]:
    """Retrain every candidate with the batch; register the best; move aliases by the rule."""
    client = mlflow.client()
    champion = load_champion(mlflow, test_listings)
    old = pd.concat([train_listings, champion.reference], ignore_index=True)
    data = retraining_data(
        old, market_batches, config.holdout_share, config.new_weight, config.seed
    )
    training = TrainingConfig(folds=config.folds, seed=config.seed)
    runs = [log_candidate(s, data.train, training, mlflow, context)[0] for s in CANDIDATES.values()]
    scores = {run.name: score(run.model_uri, data.holdout)[0] for run in runs}
    table = pd.DataFrame(scores).T
    best = next(r for r in runs if r.name == table[config.metric].idxmin())
    champion_metrics = score(CHAMPION_URI, data.holdout)[0] if champion.version else None
    if champion_metrics is not None:
        table.loc[f"current champion (v{champion.version})"] = champion_metrics
    policy = config.policy or monitoring.promotion_policy
    decision = decide_promotion(
        scores[best.name][config.metric],
        None if champion_metrics is None else champion_metrics[config.metric],
        config.margin,
        policy,
    )
    reference_uri = save_reference(
        data.holdout,
        join(locations.artifacts_uri, "drift-references", f"{context.run.run_id}.parquet"),
    )
    tags = {
        "candidate": best.name,
        "dagster_run_id": context.run.run_id,
        "decision": decision.alias,
        "decision_reason": decision.reason,
        "trigger": f"drift in batch {context.partition_key}",
        REFERENCE_TAG: reference_uri,
        **{k: v for k, v in context.run.tags.items() if k.startswith("bh_pricing/")},
    }
    version = registry.register(client, best.model_uri, tags)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, decision.alias, version.version)
    context.log.info(f"{best.name} registered as version {version.version}: {decision.reason}")
    return dg.MaterializeResult(
        value=ChampionResult(
            version.version,
            decision.alias,
            best.name,
            best.model_uri,
            scores[best.name],
            champion_metrics,
        ),
        metadata={
            "version": int(version.version),
            "alias": decision.alias,
            "promoted": decision.promote,
            "policy": policy,
            "decision": decision.reason,
            "candidate": best.name,
            "previous_champion": champion.version or "none",
            "train_rows": len(data.train),
            "new_rows": data.new_rows,
            "new_row_copies": data.copies,
            "holdout_rows": len(data.holdout),
            "drift_reference": reference_uri,
            "holdout_scores": dg.MetadataValue.md(table.round(4).to_markdown()),
            "mlflow_run_id": best.run_id,
        },
    )
