"""The rule that decides which alias a newly registered model gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS

PromotionPolicy = Literal["auto", "manual"]


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of comparing a candidate with the champion on the same test set (lower is better)."""

    alias: str
    reason: str
    candidate_score: float
    champion_score: float | None

    @property
    def promote(self) -> bool:
        """True when the candidate becomes the champion."""
        return self.alias == CHAMPION_ALIAS


def decide_promotion(
    candidate_score: float,
    champion_score: float | None,
    margin: float = 0.01,
    policy: PromotionPolicy = "auto",
) -> PromotionDecision:
    """Champion when there is none, or when the candidate's error is lower by ``margin``.

    ``margin`` is relative (0.01 = at least 1 % lower error). Under the ``manual`` policy a
    winning candidate only becomes ``challenger``; a person promotes it. A worse model never
    becomes champion.
    """
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    if policy not in ("auto", "manual"):
        raise ValueError(f"policy must be 'auto' or 'manual', got {policy!r}")
    if candidate_score != candidate_score:  # NaN
        raise ValueError("candidate score is NaN")
    if champion_score is None:
        wins, reason = True, "no current champion"
    else:
        needed = champion_score * (1 - margin)
        wins = candidate_score <= needed
        verdict = "beats" if wins else "does not beat"
        reason = (
            f"candidate {candidate_score:,.0f} {verdict} champion {champion_score:,.0f} "
            f"by the {margin:.1%} margin (needs <= {needed:,.0f})"
        )
    if wins and policy == "manual":
        return PromotionDecision(
            CHALLENGER_ALIAS,
            reason + "; manual policy: awaiting promotion",
            candidate_score,
            champion_score,
        )
    alias = CHAMPION_ALIAS if wins else CHALLENGER_ALIAS
    return PromotionDecision(alias, reason, candidate_score, champion_score)
