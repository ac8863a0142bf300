"""Split-conformal intervals: the finite-sample quantile, bounds in BRL, coverage, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bh_pricing.core.intervals import ConformalInterval, calibrate, conformal_quantile, coverage


@pytest.mark.parametrize(
    ("n", "level", "rank"),
    [(9, 0.8, 8), (10, 0.8, 9), (99, 0.9, 90), (4, 0.8, 4), (1000, 0.5, 501)],
)
def test_quantile_is_the_ceil_n_plus_1_rank(n: int, level: float, rank: int) -> None:
    scores = np.random.default_rng(n).permutation(np.arange(1, n + 1, dtype=float))
    assert conformal_quantile(scores, level) == rank


@pytest.mark.parametrize(
    ("scores", "level", "message"),
    [
        ([0.1, 0.2, 0.3], 0.8, "too few"),
        ([0.1] * 10, 1.0, "level must be in"),
        ([0.1] * 10, 0.0, "level must be in"),
        ([0.1, math.nan] * 10, 0.8, "finite"),
    ],
)
def test_quantile_rejects_what_has_no_finite_interval(
    scores: list[float], level: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        conformal_quantile(np.array(scores), level)


def test_bounds_are_symmetric_in_log_price() -> None:
    interval = ConformalInterval(0.8, math.log(1.25), 100, "test")
    low, high = interval.bounds(np.array([100_000.0, 1_000_000.0]))
    assert low == pytest.approx([80_000.0, 800_000.0])
    assert high == pytest.approx([125_000.0, 1_250_000.0])


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrated_interval_covers_new_listings_at_the_level(level: float, seed: int) -> None:
    # given exchangeable listings whose log price misses the prediction by N(0, 0.2)
    rng = np.random.default_rng(seed)
    predicted = rng.uniform(2e5, 3e6, 4000)
    price = predicted * np.exp(rng.normal(0, 0.2, 4000))
    # when calibrated on half, then the other half is covered at about the level
    interval = calibrate(price[:2000], predicted[:2000], level, "half")
    low, high = interval.bounds(predicted[2000:])
    assert coverage(price[2000:], low, high) == pytest.approx(level, abs=0.03)
    assert interval.calibration_rows == 2000
    assert interval.log_halfwidth == pytest.approx(0.2 * _normal_quantile(level), rel=0.08)


def _normal_quantile(level: float) -> float:
    return {0.5: 0.6745, 0.8: 1.2816, 0.9: 1.6449}[level]


@pytest.mark.parametrize(
    ("prices", "predictions", "message"),
    [
        ([1.0, 2.0], [1.0], "2 prices but 1 predictions"),
        ([1.0, -2.0] * 5, [1.0, 2.0] * 5, "positive"),
        ([1.0, 2.0] * 5, [0.0, 2.0] * 5, "positive"),
    ],
)
def test_calibrate_names_bad_input(prices: list, predictions: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(np.array(prices), np.array(predictions))


def test_coverage_counts_the_ends_as_inside() -> None:
    prices = np.array([1.0, 2.0, 3.0, 4.0])
    assert coverage(prices, np.array([1.0, 2.5, 0.0, 5.0]), np.array([1.0, 3.0, 3.0, 6.0])) == 0.5
    assert math.isnan(coverage(np.array([]), np.array([]), np.array([])))
