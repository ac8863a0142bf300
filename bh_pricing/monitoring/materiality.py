"""How large a change must be to count as drift, and the effect sizes it is measured by.

A significance test answers "is there any change?", and with enough rows the answer is always
yes: at 400,000 listings a 0.5 % price rise is significant far beyond any alpha. A drift report
therefore flags a test only when it is significant *and* its effect reaches a minimum size, the
practice of drift monitors such as Evidently, whose defaults for large data are the two
distances below at 0.1:

- numeric features: Wasserstein (earth mover's) distance between the two distributions divided
  by the reference's standard deviation, ``scipy.stats.wasserstein_distance`` (0.1 = the batch's
  distribution moved by a tenth of the reference's spread);
- the neighborhood mix: Jensen-Shannon distance (base 2, between 0 and 1) between the two
  shares, ``scipy.spatial.distance.jensenshannon`` (Lin 1991);
- price level: the relative change of the geometric mean price (or price per m²), and of the
  model's median log(price / prediction), at least 2 % by default;
- model error: the rise of the median absolute percentage error, in percentage points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy import stats
from scipy.spatial import distance


@dataclass(frozen=True)
class DriftThresholds:
    """Smallest effects that count as drift (a significant smaller one is "immaterial").

    ``price_change``: relative price level change (0.02 = 2 %) of price, price per m² and the
    model's bias. ``feature_distance``: Wasserstein distance / reference std of a numeric
    feature. ``neighborhood_distance``: Jensen-Shannon distance (base 2) of the neighborhood
    shares. ``error_increase``: rise of the model's median absolute percentage error (0.02 = two
    percentage points). Zero everywhere gives significance-only tests. Raises ``ValueError`` on
    a negative or non-finite value.
    """

    price_change: float = 0.02
    feature_distance: float = 0.1
    neighborhood_distance: float = 0.1
    error_increase: float = 0.02

    def __post_init__(self) -> None:
        bad = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not math.isfinite(getattr(self, f.name)) or getattr(self, f.name) < 0
        }
        if bad:
            raise ValueError(f"drift thresholds must be finite and >= 0, got {bad}")


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance between two samples in units of the reference's std (>= 0).

    A constant reference (std 0) gives 0 when the batch has the same value, else infinity.
    """
    raw = float(stats.wasserstein_distance(reference, current))
    spread = float(np.std(reference))
    if spread > 0:
        return raw / spread
    return 0.0 if raw == 0 else math.inf


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors over the same bins."""
    return float(distance.jensenshannon(reference_counts, current_counts, base=2))


def log_level_change(reference: np.ndarray, current: np.ndarray) -> float:
    """Relative change of the geometric mean of positive values (exp of the mean log change - 1)."""
    return float(np.expm1(np.mean(np.log(current)) - np.mean(np.log(reference))))
