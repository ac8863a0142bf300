"""Realized errors without Dagster: served predictions joined with landed prices by listing id."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bh_pricing.constants import LISTING_ID
from bh_pricing.monitoring.realized import (
    DEGRADED,
    IMMATERIAL,
    INSUFFICIENT,
    NO_IDS,
    WITHIN_TOLERANCE,
    RealizedSettings,
    measure_realized_errors,
)
from bh_pricing.serving.log_reader import LOG_COLUMNS

START = pd.Timestamp("2026-02-01", tz="UTC")


def prediction_log(*rows: tuple[str | None, str, float, int]) -> pd.DataFrame:
    """Log rows as ``read_prediction_log`` gives them: (listing id, version, prediction, minute)."""
    records = [
        {
            "request_id": f"r{i}",
            "item": 0,
            "time": START + pd.Timedelta(minutes=minute),
            "model_version": version,
            LISTING_ID: listing,
            "neighborhood": "centro",
            "square_foot": 70.0,
            "rooms": 2.0,
            "garage_places": 1.0,
            "adm_fees": 500.0,
            "latitude": math.nan,
            "longitude": math.nan,
            "prediction": prediction,
        }
        for i, (listing, version, prediction, minute) in enumerate(rows)
    ]
    frame = pd.DataFrame(records, columns=list(LOG_COLUMNS))
    return frame.astype({"model_version": "string", LISTING_ID: "string"})


def batch(prices: dict[str | None, float] | list[tuple[str | None, float]]) -> pd.DataFrame:
    """Clean batch rows with their ids (a list allows repeated ids)."""
    items = list(prices.items()) if isinstance(prices, dict) else prices
    return pd.DataFrame(
        {
            LISTING_ID: pd.Series([i for i, _ in items], dtype="string"),
            "price": [p for _, p in items],
            "square_foot": 70.0,
        }
    )


def served(errors: np.ndarray, version: str = "3", price: float = 500_000.0) -> tuple:
    """A log and a batch whose listings realized ``log(price / prediction) = errors``."""
    ids = [f"L{i}" for i in range(len(errors))]
    rows = [(i, version, price / math.exp(e), 0) for i, e in zip(ids, errors, strict=True)]
    log = prediction_log(*rows)
    return log, batch(dict.fromkeys(ids, price))


SETTINGS = RealizedSettings(alpha=0.05, min_rows=30, min_mape_increase=0.25)
REFERENCE = np.random.default_rng(0).normal(0.0, 0.12, 400)


def test_a_batch_without_the_column_has_no_ids() -> None:
    log, _ = served(REFERENCE[:50])
    frame = pd.DataFrame({"price": [500_000.0], "square_foot": [70.0]})
    result = measure_realized_errors(log, frame, "3", REFERENCE, SETTINGS)
    assert result.verdict == NO_IDS
    assert result.reason == "the batch has no listing_id column"
    assert result.versions.empty
    assert result.matched.empty
    assert not result.passed
    assert not result.degraded


def test_a_column_of_missing_ids_has_no_ids() -> None:
    log, _ = served(REFERENCE[:50])
    result = measure_realized_errors(
        log, batch([(None, 5e5), ("  ", 6e5)]), "3", REFERENCE, SETTINGS
    )
    assert result.verdict == NO_IDS
    assert result.reason == "no clean row of the batch has a listing_id"


@pytest.mark.parametrize(
    "log",
    [
        prediction_log(),
        prediction_log(("X1", "3", 5e5, 0), ("X2", "3", 5e5, 1)),
        prediction_log((None, "3", 5e5, 0)),
    ],
    ids=["empty log", "other ids", "requests without id"],
)
def test_ids_without_a_match_are_insufficient_data(log: pd.DataFrame) -> None:
    result = measure_realized_errors(log, batch({"A": 5e5, "B": 6e5}), "3", REFERENCE, SETTINGS)
    assert result.verdict == INSUFFICIENT
    assert result.batch_ids == 2
    assert result.matched.empty
    assert result.versions.empty
    assert result.reason == (
        "0 listing(s) of the batch priced by champion version 3, at least 30 are needed"
    )
    assert result.to_markdown() == "no matched listings"


def test_per_version_metrics_are_computed_on_each_versions_own_matches() -> None:
    # given two versions pricing overlapping listings, ids padded in the batch
    log = prediction_log(
        ("A", "2", 110_000.0, 0),
        ("B", "2", 150_000.0, 1),
        ("A", "10", 90_000.0, 2),
    )
    prices = batch({" A ": 100_000.0, "B": 200_000.0, "C": 300_000.0})
    result = measure_realized_errors(log, prices, "10", REFERENCE, SETTINGS)
    table = result.versions.set_index("model_version")
    # then versions are in numeric order, each with its own matched listings
    assert list(table.index) == ["2", "10"], "numeric order, not text order"
    assert table.loc["2", "matched"] == 2
    assert table.loc["10", "matched"] == 1
    assert table.loc["2", "mae_brl"] == pytest.approx(30_000.0)
    assert table.loc["2", "mape"] == pytest.approx((0.10 + 0.25) / 2)
    errors = [math.log(100 / 110), math.log(200 / 150)]
    assert table.loc["2", "mean_log_error"] == pytest.approx(np.mean(errors))
    assert table.loc["2", "median_log_error"] == pytest.approx(np.median(errors))
    assert table.loc["10", "mape"] == pytest.approx(0.10)
    assert table.loc["10", "median_log_error"] == pytest.approx(math.log(100 / 90))
    assert result.champion_matched == 1
    assert result.verdict == INSUFFICIENT
    cells = [[c.strip() for c in row.split("|")[1:-1]] for row in result.to_markdown().splitlines()]
    assert cells[2] == ["2", "", "2", "30,000", "17.5%", "+0.0962", "+0.0962"], cells
    assert cells[3] == ["10", "yes", "1", "10,000", "10.0%", "+0.1054", "+0.1054"], cells


def test_the_latest_prediction_per_listing_and_version_counts() -> None:
    # given a listing priced three times by version 3 (out of order in the log) and once by 4
    log = prediction_log(
        ("A", "3", 400_000.0, 5),
        ("A", "3", 450_000.0, 9),
        ("A", "3", 300_000.0, 1),
        ("A", "4", 480_000.0, 2),
    )
    result = measure_realized_errors(log, batch({"A": 500_000.0}), "3", REFERENCE, SETTINGS)
    # then version 3 counts it once, with its latest price; version 4 once as well
    rows = result.matched.set_index("model_version")
    assert rows.loc["3", "prediction"] == 450_000.0, "the latest prediction of version 3"
    assert rows.loc["4", "prediction"] == 480_000.0
    assert result.versions["matched"].tolist() == [1, 1]


def test_an_id_on_several_batch_rows_is_ambiguous_and_left_out() -> None:
    log = prediction_log(("A", "3", 5e5, 0), ("B", "3", 5e5, 0))
    prices = batch([("A", 500_000.0), ("A", 900_000.0), ("B", 520_000.0), ("A ", 510_000.0)])
    result = measure_realized_errors(log, prices, "3", REFERENCE, SETTINGS)
    assert result.ambiguous_ids == 1, "A is on three rows"
    assert result.batch_ids == 4
    assert result.matched[LISTING_ID].tolist() == ["B"], "only the unambiguous id matches"


def test_much_larger_errors_on_enough_listings_are_degraded() -> None:
    # given the champion off by about 40 % on 60 listings, 12 % on its holdout
    current = np.random.default_rng(1).normal(0.4, 0.1, 60)
    log, prices = served(current)
    result = measure_realized_errors(log, prices, "3", REFERENCE, SETTINGS)
    assert result.verdict == DEGRADED, result.reason
    assert result.degraded
    assert not result.passed
    assert result.p_value is not None
    assert result.p_value < 1e-6
    assert result.mape_increase is not None
    assert result.mape_increase > 1.0
    assert result.champion_matched == 60


def test_errors_like_the_holdouts_are_within_tolerance() -> None:
    # given realized errors that are the holdout's own errors
    log, prices = served(REFERENCE[:80])
    result = measure_realized_errors(log, prices, "3", REFERENCE, SETTINGS)
    assert result.verdict == WITHIN_TOLERANCE, result.reason
    assert result.passed
    assert not result.degraded
    assert result.p_value is not None
    assert result.p_value > 0.05


def test_a_significant_but_small_rise_is_immaterial() -> None:
    # given 4000 listings whose errors are 10 % larger than the holdout's: significant, < 25 %
    reference = np.random.default_rng(2).normal(0.0, 0.12, 4000)
    log, prices = served(reference * 1.10)
    result = measure_realized_errors(log, prices, "3", reference, SETTINGS)
    assert result.verdict == IMMATERIAL, result.reason
    assert result.passed
    assert result.p_value is not None
    assert result.p_value <= 0.05
    assert result.mape_increase == pytest.approx(0.10, abs=0.01)
    # and with no minimum effect the same rise is degraded
    strict = RealizedSettings(alpha=0.05, min_rows=30, min_mape_increase=0.0)
    assert measure_realized_errors(log, prices, "3", reference, strict).verdict == DEGRADED


@pytest.mark.parametrize("n", [1, 5, 29])
def test_fewer_matches_than_min_rows_are_insufficient_whatever_the_errors(n: int) -> None:
    log, prices = served(np.full(n, 0.9))
    result = measure_realized_errors(log, prices, "3", REFERENCE, SETTINGS)
    assert result.verdict == INSUFFICIENT
    assert result.reason.startswith(f"{n} listing(s) of the batch priced by champion version 3")
    assert result.p_value is None


def test_matches_of_other_versions_do_not_test_the_champion() -> None:
    log, prices = served(np.full(60, 0.9), version="2")
    result = measure_realized_errors(log, prices, "3", REFERENCE, SETTINGS)
    assert result.verdict == INSUFFICIENT, "version 2's errors say nothing about champion 3"
    assert result.versions["matched"].tolist() == [60]


def test_without_a_champion_there_is_nothing_to_test() -> None:
    log, prices = served(np.full(60, 0.9))
    result = measure_realized_errors(log, prices, None, np.array([]), SETTINGS)
    assert result.verdict == INSUFFICIENT
    assert result.reason == "no champion yet"
    assert result.champion_matched == 0


def test_a_champion_to_test_needs_reference_errors() -> None:
    log, prices = served(REFERENCE[:40])
    with pytest.raises(ValueError, match="champion version 3: no reference errors given"):
        measure_realized_errors(log, prices, "3", np.array([]), SETTINGS)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_a_non_positive_prediction_is_an_error(bad: float) -> None:
    log = prediction_log(("A", "3", bad, 0))
    with pytest.raises(ValueError, match=r"1 non-positive or non-finite prediction\(s\)"):
        measure_realized_errors(log, batch({"A": 5e5}), "3", REFERENCE, SETTINGS)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alpha": 0.0}, "alpha must be in"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"min_rows": 1}, "min_rows must be >= 2"),
        ({"min_mape_increase": -0.1}, "min_mape_increase must be finite and >= 0"),
        ({"min_mape_increase": math.inf}, "min_mape_increase must be finite and >= 0"),
    ],
)
def test_bad_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RealizedSettings(**settings)


def test_a_log_without_the_id_column_is_named() -> None:
    log = prediction_log(("A", "3", 5e5, 0)).drop(columns=[LISTING_ID])
    with pytest.raises(ValueError, match=r"prediction log: missing column\(s\) \['listing_id'\]"):
        measure_realized_errors(log, batch({"A": 5e5}), "3", REFERENCE, SETTINGS)
