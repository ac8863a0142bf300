"""The rule that decides which alias a newly registered model gets: promotion on evidence.

Candidate and champion are scored on the same holdout, listing by listing. The candidate becomes
champion only when all of these hold:

1. the holdout has at least ``min_rows`` listings;
2. it does not lose on both MAE and MAPE (weighted), whatever the chosen metric says;
3. its chosen metric (weighted RMSE, MAE or MAPE) is lower by at least ``margin`` (relative);
4. a one-sided weighted paired bootstrap on the per-listing absolute log errors
   ``|log(pred / price)|`` says its error is lower at level ``alpha``: the p-value is the share
   of ``resamples`` bootstrap means of the paired differences (candidate - champion), drawn with
   probabilities proportional to the weights, that are >= 0 (Efron & Tibshirani, *An
   Introduction to the Bootstrap*, 1993, ch. 16).

Otherwise the champion stays and the candidate becomes ``challenger``. Under the ``manual``
policy a winner becomes ``challenger`` too and waits for a person. The first model (no champion
yet) becomes champion under either policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS
from bh_pricing.core.evaluation import regression_metrics

PromotionPolicy = Literal["auto", "manual"]
Metric = Literal["rmse", "mae", "mape"]


@dataclass(frozen=True)
class PromotionRule:
    """Thresholds of the rule (see the module docstring)."""

    metric: Metric = "rmse"
    margin: float = 0.01
    alpha: float = 0.05
    min_rows: int = 30
    resamples: int = 2000
    seed: int = 0
    policy: PromotionPolicy = "auto"

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.policy not in ("auto", "manual"):
            raise ValueError(f"policy must be 'auto' or 'manual', got {self.policy!r}")
        if self.metric not in ("rmse", "mae", "mape"):
            raise ValueError(f"metric must be rmse, mae or mape, got {self.metric!r}")


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of the rule; scores are the chosen weighted metric (lower is better)."""

    alias: str
    reason: str
    candidate_score: float
    champion_score: float | None
    p_value: float | None = None
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None

    @property
    def promote(self) -> bool:
        """True when the candidate becomes the champion."""
        return self.alias == CHAMPION_ALIAS


def paired_bootstrap_p_value(
    differences: np.ndarray, weights: np.ndarray, resamples: int, seed: int
) -> float:
    """One-sided p-value that the weighted mean of ``differences`` is >= 0 (see module doc)."""
    probabilities = weights / weights.sum()
    draws = np.random.default_rng(seed).choice(
        len(differences), size=(resamples, len(differences)), p=probabilities
    )
    means = differences[draws].mean(axis=1)
    return float((np.count_nonzero(means >= 0) + 1) / (resamples + 1))


def decide_promotion(
    price: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    weights: np.ndarray | None = None,
    rule: PromotionRule | None = None,
) -> PromotionDecision:
    """Apply the rule to prices (BRL) and both models' predictions on the same listings.

    Raises ValueError when lengths differ, a prediction is not finite and positive, or a
    weight is negative or all weights are zero.
    """
    rule = rule or PromotionRule()
    price = np.asarray(price, float)
    candidate = np.asarray(candidate, float)
    w = np.ones_like(price) if weights is None else np.asarray(weights, float)
    _validate(price, candidate, w, "candidate")
    ours = regression_metrics(price, candidate, w)
    if champion is None:
        # Nothing to protect: the first model is the champion under either policy.
        score = ours[rule.metric]
        return PromotionDecision(CHAMPION_ALIAS, "no current champion", score, None, None, ours)
    champion = np.asarray(champion, float)
    _validate(price, champion, w, "champion")
    theirs = regression_metrics(price, champion, w)
    if len(price) < rule.min_rows:
        reason = f"holdout of {len(price)} listings is under the {rule.min_rows} needed to judge"
        return _decide(False, reason, rule, ours, theirs, None)
    if ours["mae"] > theirs["mae"] and ours["mape"] > theirs["mape"]:
        reason = (
            f"loses on MAE ({ours['mae']:,.0f} > {theirs['mae']:,.0f}) and MAPE "
            f"({ours['mape']:.2%} > {theirs['mape']:.2%})"
        )
        return _decide(False, reason, rule, ours, theirs, None)
    log_price = np.log(price)
    differences = np.abs(np.log(candidate) - log_price) - np.abs(np.log(champion) - log_price)
    p_value = paired_bootstrap_p_value(differences, w, rule.resamples, rule.seed)
    needed = theirs[rule.metric] * (1 - rule.margin)
    beats_margin = ours[rule.metric] <= needed
    significant = p_value <= rule.alpha
    reason = (
        f"{rule.metric} {ours[rule.metric]:,.4g} vs champion {theirs[rule.metric]:,.4g} "
        f"({'beats' if beats_margin else 'does not beat'} the {rule.margin:.1%} margin, "
        f"needs <= {needed:,.4g}); paired bootstrap p = {p_value:.4f} "
        f"({'significant' if significant else 'not significant'} at {rule.alpha:g})"
    )
    return _decide(beats_margin and significant, reason, rule, ours, theirs, p_value)


def _decide(
    wins: bool,
    reason: str,
    rule: PromotionRule,
    ours: dict[str, float],
    theirs: dict[str, float] | None,
    p_value: float | None,
) -> PromotionDecision:
    if wins and rule.policy == "manual":
        reason += "; manual policy: awaiting promotion"
    alias = CHAMPION_ALIAS if wins and rule.policy == "auto" else CHALLENGER_ALIAS
    return PromotionDecision(
        alias,
        reason,
        ours[rule.metric],
        None if theirs is None else theirs[rule.metric],
        p_value,
        ours,
        theirs,
    )


def _validate(price: np.ndarray, predicted: np.ndarray, weights: np.ndarray, who: str) -> None:
    if not (len(price) == len(predicted) == len(weights)):
        raise ValueError(
            f"{who}: {len(predicted)} predictions, {len(price)} prices, {len(weights)} weights"
        )
    if len(price) == 0:
        raise ValueError("empty holdout: nothing to score")
    if not np.all(np.isfinite(predicted) & (predicted > 0)):
        raise ValueError(f"{who}: predictions must be finite positive prices (BRL)")
    if np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError("weights must be >= 0 and not all zero")
