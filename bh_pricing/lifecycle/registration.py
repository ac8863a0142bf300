"""Score the candidates and the champion on one holdout, decide, register, move the aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHAMPION_ALIAS, CHAMPION_URI, REGISTERED_MODEL_NAME
from bh_pricing.core.evaluation import regression_metrics
from bh_pricing.core.models import split_features_target
from bh_pricing.core.promotion import PromotionDecision, PromotionRule, decide_promotion
from bh_pricing.core.recency import sample_weights
from bh_pricing.io import registry
from bh_pricing.io.model_logging import interval_metrics, predicted_prices
from bh_pricing.lifecycle.fitting import CandidateRun


@dataclass(frozen=True)
class ChampionResult:
    """One decision: the version registered (``version``, alias ``alias``) and the version the
    ``champion`` alias points to afterwards (``champion_version``: the new one, or the kept one).

    Metrics are weighted, on the holdout; ``champion_metrics`` is None without a prior champion.
    """

    version: str
    alias: str
    candidate: str
    model_uri: str
    run_id: str
    champion_version: str
    previous_champion: str | None
    decision: str
    p_value: float | None
    test_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    trigger: str


@dataclass(frozen=True)
class PromotionOutcome:
    """The result, the scores table (one row per model) and the chosen candidate's predictions."""

    result: ChampionResult
    scores: pd.DataFrame
    predictions: np.ndarray


def score_model(model_uri: str, holdout: pd.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """Prices (BRL) predicted for ``holdout`` by a model loaded through the pyfunc contract, and
    the coverage and mean width of its prediction interval (empty for a model without one)."""
    X, y = split_features_target(holdout)
    output = mlflow.pyfunc.load_model(model_uri).predict(X)
    return predicted_prices(output), interval_metrics(output, y)


def promote_best(
    client: MlflowClient,
    candidates: Sequence[CandidateRun],
    holdout: pd.DataFrame,
    rule: PromotionRule,
    tags: Mapping[str, str],
) -> PromotionOutcome:
    """Register the best candidate on ``holdout`` and give it ``champion`` or ``challenger``.

    The best candidate is the one with the lowest weighted ``rule.metric``; it is compared with
    the current champion listing by listing (``core.promotion``). The version is tagged with
    ``candidate``, ``decision``, ``decision_reason``, ``candidate_score``, ``champion_score``,
    ``p_value``, ``previous_champion``, ``trigger`` and ``tags`` (e.g. ``dagster_run_id``).
    """
    if not candidates:
        raise ValueError("no candidate to promote")
    weights = sample_weights(holdout)
    price = holdout["price"].to_numpy(dtype=np.float64)
    scored = {c.name: score_model(c.model_uri, holdout) for c in candidates}
    predictions = {name: prices for name, (prices, _) in scored.items()}
    scores = pd.DataFrame(
        {name: regression_metrics(price, p, weights) for name, p in predictions.items()}
    ).T
    best = next(c for c in candidates if c.name == scores[rule.metric].idxmin())
    current = registry.version_by_alias(client, CHAMPION_ALIAS)
    champion_predictions = None if current is None else score_model(CHAMPION_URI, holdout)[0]
    if champion_predictions is not None:
        scores.loc[f"current champion (v{current.version})"] = regression_metrics(
            price, champion_predictions, weights
        )
    decision = decide_promotion(price, predictions[best.name], champion_predictions, weights, rule)
    previous = None if current is None else str(current.version)
    version_tags = {
        **tags,
        **decision_tags(best, decision, previous),
    }
    version = registry.register(client, best.model_uri, version_tags)
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, decision.alias, version.version)
    test_metrics = decision.candidate_metrics | scored[best.name][1]
    for key, value in test_metrics.items():
        client.log_metric(best.run_id, f"test_{key}", value)
    client.set_tag(best.run_id, "promotion", f"v{version.version} -> {decision.alias}")
    result = ChampionResult(
        version=str(version.version),
        alias=decision.alias,
        candidate=best.name,
        model_uri=best.model_uri,
        run_id=best.run_id,
        champion_version=str(version.version) if decision.promote else str(previous),
        previous_champion=previous,
        decision=decision.reason,
        p_value=decision.p_value,
        test_metrics=test_metrics,
        champion_metrics=decision.champion_metrics,
        trigger=best.trigger,
    )
    return PromotionOutcome(result, scores, predictions[best.name])


def decision_tags(
    best: CandidateRun, decision: PromotionDecision, previous: str | None
) -> dict[str, str]:
    """The tags every registered version carries."""
    return {
        "candidate": best.name,
        "decision": decision.alias,
        "decision_reason": decision.reason,
        "candidate_score": f"{decision.candidate_score:.4f}",
        "champion_score": (
            "none" if decision.champion_score is None else f"{decision.champion_score:.4f}"
        ),
        "p_value": "none" if decision.p_value is None else f"{decision.p_value:.4f}",
        "previous_champion": previous or "none",
        "trigger": best.trigger,
    }
