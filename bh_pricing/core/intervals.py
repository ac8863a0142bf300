"""Prediction intervals for prices by split-conformal calibration on log-price residuals.

Pure numpy, no I/O: the serving runtime (ONNX, no scikit-learn) uses the same functions as the
MLflow model, so a price gets the same interval wherever it is computed.

Method (split-conformal regression, Lei et al. 2018, "Distribution-free predictive inference for
regression", JASA 113(523), Sec. 2.2; Angelopoulos & Bates 2023, "Conformal Prediction: A Gentle
Introduction", Sec. 1): with calibration scores ``s_i = |log(price_i) - log(prediction_i)|`` on
``n`` listings the model did not see, ``q`` is the ``ceil((n + 1) * level) / n`` empirical
quantile of the scores (the finite-sample correction), and the interval of a new prediction
``p`` is ``[p * exp(-q), p * exp(q)]`` BRL. If the calibration listings and the new one are
exchangeable, it holds the true price with probability at least ``level``. Symmetric in log
price, so it is wider in BRL above the prediction than below it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_LEVEL = 0.8


@dataclass(frozen=True)
class ConformalInterval:
    """A calibrated interval: ``level``, half-width ``log_halfwidth`` in log price, and its origin.

    ``calibration_rows`` listings gave the scores; ``method`` says how they were held out.
    """

    level: float
    log_halfwidth: float
    calibration_rows: int
    method: str

    def bounds(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low and high ends (BRL) for predicted ``prices`` (BRL, any shape)."""
        prices = np.asarray(prices, dtype=np.float64)
        factor = math.exp(self.log_halfwidth)
        return prices / factor, prices * factor


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) * level) / n`` empirical quantile of ``scores`` (Lei et al. 2018).

    Raises ValueError when ``level`` is not in (0, 1), a score is not finite, or there are too few
    scores for the level (``(n + 1) * level > n``: the interval would be unbounded).
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not np.isfinite(scores).all():
        raise ValueError("calibration scores must be finite")
    n = scores.size
    rank = math.ceil((n + 1) * level)
    if rank > n:
        raise ValueError(f"{n} calibration rows are too few for level {level}: need {rank}")
    return float(np.sort(scores)[rank - 1])


def calibrate(
    prices: np.ndarray, predictions: np.ndarray, level: float = DEFAULT_LEVEL, method: str = ""
) -> ConformalInterval:
    """Calibrate on held-out ``prices`` and the model's ``predictions`` of them (both BRL, > 0).

    Raises ValueError for different lengths, non-positive values or too few rows (see
    ``conformal_quantile``).
    """
    prices = np.asarray(prices, dtype=np.float64).ravel()
    predictions = np.asarray(predictions, dtype=np.float64).ravel()
    if prices.shape != predictions.shape:
        raise ValueError(f"{prices.size} prices but {predictions.size} predictions")
    if (prices <= 0).any() or (predictions <= 0).any():
        raise ValueError("prices and predictions must be positive to calibrate in log price")
    scores = np.abs(np.log(prices) - np.log(predictions))
    return ConformalInterval(level, conformal_quantile(scores, level), prices.size, method)


def coverage(prices: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of ``prices`` inside ``[low, high]`` (NaN when there are none)."""
    prices = np.asarray(prices, dtype=np.float64)
    if prices.size == 0:
        return float("nan")
    return float(np.mean((prices >= low) & (prices <= high)))
