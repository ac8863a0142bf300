"""The result of a drift check: one entry per statistical test, plus the family-wise verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

DriftKind = Literal["feature", "target", "performance"]
DRIFT = "drift"
NO_DRIFT = "no drift"
IMMATERIAL = "no drift (immaterial)"
INSUFFICIENT = "insufficient data"
PASSING = frozenset({NO_DRIFT, IMMATERIAL})


@dataclass(frozen=True)
class DriftTest:
    """One test of reference vs current.

    ``effect`` is the size of the change, described by ``effect_label``, and ``min_effect`` the
    smallest size that counts (``DriftThresholds``). ``threshold`` is the level the p-value was
    held to in the weighted Holm procedure and ``p_adjusted`` the family-wise adjusted p-value.
    The test is ``significant`` when ``p_adjusted <= alpha`` and ``material`` when the effect
    reaches ``min_effect``; it flags drift (``drifted``) only when both hold. Verdicts: "drift",
    "no drift (immaterial)" (significant, too small to matter), "no drift", "insufficient data".
    """

    name: str
    kind: DriftKind
    method: str
    statistic: float
    p_value: float
    effect: float
    effect_label: str
    n_reference: int
    n_current: int
    weight: float = float("nan")
    threshold: float = float("nan")
    p_adjusted: float = float("nan")
    min_effect: float = float("nan")
    significant: bool = False
    material: bool = False
    drifted: bool = False
    verdict: str = NO_DRIFT
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftReport:
    """All tests of one reference/current comparison, corrected together at level ``alpha``."""

    tests: tuple[DriftTest, ...]
    alpha: float
    n_reference: int
    n_current: int
    verdict: str
    reason: str = ""

    @property
    def drift_detected(self) -> bool:
        """True when at least one test flags drift after the family-wise correction."""
        return self.verdict == DRIFT

    @property
    def passed(self) -> bool:
        """True on "no drift" and "no drift (immaterial)"."""
        return self.verdict in PASSING

    @property
    def drifted_tests(self) -> list[str]:
        """Names of the tests that flag drift."""
        return [t.name for t in self.tests if t.drifted]

    @property
    def immaterial_tests(self) -> list[str]:
        """Names of the tests that are significant but whose effect is below its minimum."""
        return [t.name for t in self.tests if t.significant and not t.material]

    def test(self, name: str) -> DriftTest:
        """The entry of the test called ``name``."""
        for entry in self.tests:
            if entry.name == name:
                return entry
        raise KeyError(f"no drift test named {name!r}; have {[t.name for t in self.tests]}")

    def to_frame(self) -> pd.DataFrame:
        """One row per test."""
        rows = [{k: v for k, v in asdict(t).items() if k != "details"} for t in self.tests]
        return pd.DataFrame(
            rows, columns=[f for f in DriftTest.__dataclass_fields__ if f != "details"]
        )

    def summary(self) -> dict[str, Any]:
        """Plain values for metadata, run tags and logs."""
        result: dict[str, Any] = {
            "verdict": self.verdict,
            "drift_detected": self.drift_detected,
            "drifted_tests": self.drifted_tests,
            "immaterial_tests": self.immaterial_tests,
            "alpha": self.alpha,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
        }
        if self.reason:
            result["reason"] = self.reason
        for entry in self.tests:
            if entry.kind == "performance":
                result.update({f"{entry.name}.{k}": v for k, v in entry.details.items()})
        return result

    def to_markdown(self) -> str:
        """A heading line with the verdict and a table of the tests."""
        if not self.tests:
            return f"**{self.verdict}** — {self.reason}"
        head = (
            f"**{self.verdict}** — {len(self.drifted_tests)} of {len(self.tests)} tests flag "
            "drift, "
            f"{len(self.immaterial_tests)} significant but immaterial "
            f"(weighted Holm, family-wise alpha = {self.alpha:g}; drift = significant and effect "
            f">= its minimum; reference {self.n_reference} rows, current {self.n_current} rows)"
        )
        if self.reason:
            head += f"\n\n{self.reason}"
        table = pd.DataFrame(
            {
                "test": [t.name for t in self.tests],
                "kind": [t.kind for t in self.tests],
                "method": [t.method for t in self.tests],
                "statistic": [_fmt(t.statistic) for t in self.tests],
                "p-value": [_fmt(t.p_value) for t in self.tests],
                "threshold": [_fmt(t.threshold) for t in self.tests],
                "adjusted p": [_fmt(t.p_adjusted) for t in self.tests],
                "effect": [t.effect_label for t in self.tests],
                "value": [_fmt(t.effect) for t in self.tests],
                "min effect": [_fmt(t.min_effect) for t in self.tests],
                "verdict": [t.verdict for t in self.tests],
            }
        )
        return f"{head}\n\n{table.to_markdown(index=False)}"


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def weighted_holm(
    p_values: np.ndarray, weights: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and per-test levels of Holm's weighted step-down procedure.

    Tests are taken in order of ``p / w``; at each step a test is held to
    ``alpha * w / (weight of the tests not yet rejected)``. The family-wise error rate stays at
    most ``alpha`` whatever the dependence between tests (Holm 1979).
    """
    p = np.asarray(p_values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if p.shape != w.shape:
        raise ValueError(f"{len(p)} p-values but {len(w)} weights")
    if (w <= 0).any() or not np.isfinite(w).all():
        raise ValueError(f"weights must be positive and finite, got {w.tolist()}")
    if p.size == 0:
        return p.copy(), p.copy()
    w = w / w.sum()
    order = np.argsort(p / w, kind="stable")
    remaining = np.cumsum(w[order][::-1])[::-1]
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(np.minimum(1.0, p[order] * remaining / w[order]))
    levels = np.empty_like(p)
    levels[order] = alpha * w[order] / remaining
    return adjusted, levels
