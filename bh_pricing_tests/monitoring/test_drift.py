"""Drift detection: each kind of test, the family-wise verdict and bad input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.models import CANDIDATES, fit_candidate
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.shift import shift_prices
from bh_pricing.io.model_logging import PriceOnly
from bh_pricing.monitoring import (
    DRIFT,
    IMMATERIAL,
    INSUFFICIENT,
    NO_DRIFT,
    DriftThresholds,
    detect_drift,
    weighted_holm,
)
from bh_pricing.monitoring.materiality import (
    jensen_shannon,
    log_level_change,
    normed_wasserstein,
)
from bh_pricing.monitoring.plots import drift_chart


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame


@pytest.fixture(scope="module")
def split() -> Split:
    clean = clean_listings(generate_raw_listings(4000, seed=11)).clean
    shuffled = clean.sample(frac=1.0, random_state=0)
    return Split(shuffled.iloc[:1500], shuffled.iloc[1500:2500], shuffled.iloc[2500:3100])


@pytest.fixture(scope="module")
def model(split: Split):
    return fit_candidate(CANDIDATES["baseline"], split.train).estimator


def test_same_market_shows_no_drift(split: Split, model) -> None:
    # given reference and current listings from the same market
    # when drift is checked with the model
    report = detect_drift(split.reference, split.current, model)
    # then no test flags drift
    assert report.verdict == NO_DRIFT, f"expected no drift, got:\n{report.to_markdown()}"
    assert not report.drift_detected, "drift_detected should be False"
    assert len(report.tests) == 11, "7 feature, 2 target and 2 performance tests expected"


def test_default_shift_is_detected(split: Split, model) -> None:
    # given current prices raised by 10-20 %
    current = shift_prices(split.current, seed=1).frame
    # when drift is checked with the model
    report = detect_drift(split.reference, current, model)
    # then drift is flagged, by the model's bias and by price per m2
    assert report.drift_detected, f"expected drift, got:\n{report.to_markdown()}"
    assert {"residual_bias", "price_per_m2"} <= set(report.drifted_tests), report.drifted_tests
    bias = report.test("residual_bias").effect
    assert 0.10 < bias < 0.20, f"estimated bias change {bias:.3f} should be near +15 %"


def test_feature_drift_in_one_numeric_column(split: Split) -> None:
    # given current listings moved 2 km north, nothing else changed
    current = split.current.assign(latitude=split.current["latitude"] + 0.02)
    # when drift is checked
    report = detect_drift(split.reference, current)
    # then only the latitude test flags drift
    assert report.drifted_tests == ["latitude"], f"only latitude expected: {report.drifted_tests}"
    assert report.test("latitude").kind == "feature", "latitude is a feature test"


def test_feature_drift_in_neighborhoods(split: Split) -> None:
    # given a current batch from only the three most listed neighborhoods
    top = split.reference["neighborhood"].value_counts().index[:3]
    current = split.current[split.current["neighborhood"].isin(top)]
    # when drift is checked
    report = detect_drift(split.reference, current)
    # then the chi-square test on neighborhoods flags it, with a large Jensen-Shannon distance
    entry = report.test("neighborhood")
    assert entry.drifted, f"neighborhood mix change not flagged:\n{report.to_markdown()}"
    assert entry.effect > 0.3, f"Jensen-Shannon distance {entry.effect:.2f} should be large"
    assert entry.details["cramers_v"] > 0.3, f"Cramér's V {entry.details['cramers_v']:.2f}"
    # and its p-value is the Monte Carlo one, no smaller than one table in 100,000 allows
    assert entry.details["resamples"] == 99_999, f"Monte Carlo p-value expected: {entry.method}"
    assert entry.p_value == pytest.approx(1 / 100_000), f"p-value {entry.p_value}"


def test_rare_neighborhoods_are_pooled(split: Split) -> None:
    # given a current batch with many neighborhoods seen only once
    odd = split.current.head(40).assign(neighborhood=[f"New {i}" for i in range(40)])
    # when drift is checked
    report = detect_drift(split.reference, pd.concat([split.current, odd]))
    # then the new neighborhoods are pooled in one bin and the test still runs
    entry = report.test("neighborhood")
    assert entry.verdict in (DRIFT, IMMATERIAL, NO_DRIFT), f"test should run: {entry.verdict}"
    assert entry.details["categories"] < 45, "rare neighborhoods should be pooled"


def test_neighborhood_p_value_holds_its_level_on_sparse_tables(split: Split) -> None:
    # given one market with half its listings in one neighborhood and the rest two per
    # neighborhood, and 100 random batches of 30 from it, every neighborhood kept in the table
    pool = pd.concat([split.reference, split.current])
    rows = np.arange(len(pool))
    sparse = np.where(rows % 2, "Bairro " + (rows // 4).astype(str), "Centro")
    pool = pool.assign(neighborhood=sparse)
    entries = []
    for seed in range(100):
        order = np.random.default_rng(seed).permutation(len(pool))
        reference, current = pool.iloc[order[30:]], pool.iloc[order[:30]]
        # when drift is checked
        report = detect_drift(reference, current, min_expected=0.01, resamples=999)
        entries.append(report.test("neighborhood"))
    # then p <= 0.01 is as rare as a valid p-value makes it (1 expected; 5 or more: P < 0.4 %),
    # where the chi-square approximation gives it to many of the same batches
    approximate = [stats.chi2.sf(e.statistic, e.details["dof"]) for e in entries]
    assert sum(p <= 0.01 for p in approximate) >= 8, "the table should defeat the approximation"
    flagged = sum(e.p_value <= 0.01 for e in entries)
    assert flagged <= 4, f"{flagged} of 100 unchanged batches have a neighborhood p <= 0.01"


def test_target_drift_without_a_model(split: Split) -> None:
    # given current prices 30 % higher and no model
    current = shift_prices(split.current, low=0.3, high=0.3).frame
    # when drift is checked
    report = detect_drift(split.reference, current)
    # then the target tests flag it and no feature test does
    kinds = {report.test(name).kind for name in report.drifted_tests}
    assert {"price", "price_per_m2"} <= set(report.drifted_tests), report.drifted_tests
    assert kinds == {"target"}, f"only target tests should flag drift, got {kinds}"
    assert not any(t.kind == "performance" for t in report.tests), "no model, no performance"


def test_performance_drift_from_model_bias(split: Split, model) -> None:
    # given current prices 8 % higher
    current = shift_prices(split.current, low=0.08, high=0.08).frame
    # when drift is checked with the model
    report = detect_drift(split.reference, current, model)
    # then the bias test flags it and reports the model's bias on both sets
    entry = report.test("residual_bias")
    assert entry.drifted, f"8 % bias not flagged:\n{report.to_markdown()}"
    assert entry.effect == pytest.approx(0.08, abs=0.04), f"bias change {entry.effect:.3f}"
    details = entry.details
    assert details["current_bias"] > details["reference_bias"], f"bias should grow: {details}"


def test_performance_drift_from_larger_errors(split: Split, model) -> None:
    # given current prices scattered by +-40 % noise around the same level
    rng = np.random.default_rng(3)
    noise = np.exp(rng.normal(0, 0.4, len(split.current)))
    current = split.current.assign(price=split.current["price"] * noise)
    # when drift is checked with the model
    report = detect_drift(split.reference, current, model)
    # then the error test flags the model getting worse
    entry = report.test("abs_pct_error")
    assert entry.drifted, f"larger errors not flagged:\n{report.to_markdown()}"
    assert entry.details["current_mape"] > entry.details["reference_mape"], entry.details


def test_an_equally_wrong_model_shows_no_performance_drift(split: Split, model) -> None:
    # given a model that prices everything 20 % too low, on both sets alike
    class Low:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return 0.8 * model.predict(X)

    # when drift is checked
    report = detect_drift(split.reference, split.current, Low())
    # then its constant bias is not drift
    assert not report.test("residual_bias").drifted, "a constant bias is not drift"
    assert report.test("residual_bias").details["reference_bias"] > 0.15, "bias reported"


@pytest.mark.parametrize("rows", [0, 10])
def test_too_small_a_batch_is_insufficient_data(split: Split, model, rows: int) -> None:
    # when the current batch has fewer than 30 rows
    report = detect_drift(split.reference, split.current.head(rows), model)
    # then the verdict says so, explicitly, and it is not a pass
    assert report.verdict == INSUFFICIENT, f"expected insufficient data, got {report.verdict}"
    assert not report.drift_detected, "insufficient data is not drift"
    assert f"{rows} rows" in report.reason, f"reason should give the row count: {report.reason}"
    assert "insufficient data" in report.to_markdown(), "markdown should show the verdict"


def test_min_rows_is_configurable(split: Split) -> None:
    report = detect_drift(split.reference, split.current.head(10), min_rows=5)
    assert report.verdict != INSUFFICIENT, "10 rows should be enough with min_rows=5"


def test_a_column_without_values_is_insufficient_for_that_test(split: Split) -> None:
    # given a batch without coordinates
    current = split.current.assign(latitude=np.nan, longitude=np.nan)
    # when drift is checked
    report = detect_drift(split.reference, current)
    # then the coordinate tests say insufficient data and the others still run
    for name in ("latitude", "longitude"):
        assert report.test(name).verdict == INSUFFICIENT, f"{name} should lack data"
    assert report.test("price").verdict in (DRIFT, IMMATERIAL, NO_DRIFT), "price not tested"


def test_too_small_a_reference_is_an_error(split: Split) -> None:
    with pytest.raises(ValueError, match="reference has 20 rows"):
        detect_drift(split.reference.head(20), split.current)


@pytest.mark.parametrize("role", ["reference", "current"])
def test_missing_columns_are_named(split: Split, role: str) -> None:
    # given a frame without price and rooms
    frames = {"reference": split.reference, "current": split.current}
    frames[role] = frames[role].drop(columns=["price", "rooms"])
    # when drift is checked, then the error names the frame and both columns
    with pytest.raises(ValueError, match=rf"{role} listings are missing .*'rooms'.*'price'"):
        detect_drift(frames["reference"], frames["current"])


def test_non_numeric_columns_are_named(split: Split) -> None:
    current = split.current.assign(adm_fees=split.current["adm_fees"].astype(str))
    with pytest.raises(ValueError, match=r"non-numeric column\(s\) \['adm_fees'\]"):
        detect_drift(split.reference, current)


def test_bad_model_output_is_an_error(split: Split) -> None:
    class Broken:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(X))

    with pytest.raises(ValueError, match="non-positive"):
        detect_drift(split.reference, split.current, Broken())


def test_a_model_returning_a_frame_is_an_error_naming_the_adapter(split: Split, model) -> None:
    # given a model that answers like the registered pyfunc: price and interval columns
    class PriceAndInterval:
        def predict(self, X: pd.DataFrame) -> pd.DataFrame:
            prices = model.predict(X)
            return pd.DataFrame({"price": prices, "interval_low": prices, "interval_high": prices})

    with pytest.raises(ValueError, match=r"shape \(1000, 3\) .*PriceOnly"):
        detect_drift(split.reference, split.current, PriceAndInterval())
    # and wrapped in PriceOnly it is checked like the plain estimator
    wrapped = detect_drift(split.reference, split.current, PriceOnly(PriceAndInterval()))
    plain = detect_drift(split.reference, split.current, model)
    pd.testing.assert_frame_equal(wrapped.to_frame(), plain.to_frame())


def test_resamples_must_be_positive(split: Split) -> None:
    with pytest.raises(ValueError, match="resamples must be at least 1"):
        detect_drift(split.reference, split.current, resamples=0)


def test_every_test_needs_a_weight(split: Split) -> None:
    with pytest.raises(ValueError, match="no weight given"):
        detect_drift(split.reference, split.current, weights={"price": 1.0})


def test_weighted_holm_with_equal_weights_is_holm() -> None:
    # given three p-values with equal weights
    adjusted, levels = weighted_holm(np.array([0.01, 0.04, 0.03]), np.ones(3), alpha=0.05)
    # then the adjusted p-values are Holm's: 3 x 0.01, then max(2 x 0.03, .), max(0.04, .)
    assert np.allclose(adjusted, [0.03, 0.06, 0.06]), f"Holm adjusted p-values, got {adjusted}"
    assert np.allclose(levels, [0.05 / 3, 0.05, 0.05 / 2]), f"Holm levels, got {levels}"


def test_weighted_holm_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="positive"):
        weighted_holm(np.array([0.1, 0.2]), np.array([1.0, 0.0]), alpha=0.05)


def test_false_alarms_stay_rare_and_shifts_are_caught(split: Split, model) -> None:
    # given 40 seeded pairs of reference and current from one market
    pool = pd.concat([split.reference, split.current])
    alarms = caught = 0
    for seed in range(40):
        order = np.random.default_rng(seed).permutation(len(pool))
        reference, current = pool.iloc[order[300:]], pool.iloc[order[:300]]
        # when drift is checked without and with the default shift
        alarms += detect_drift(reference, current, model).drift_detected
        shifted = shift_prices(current, seed=seed).frame
        caught += detect_drift(reference, shifted, model).drift_detected
    # then false alarms stay near 5 % and every shift is caught
    assert alarms <= 5, f"{alarms} false alarms in 40 unchanged batches"
    assert caught == 40, f"only {caught} of 40 shifted batches flagged"


def test_report_as_frame_and_markdown(split: Split, model) -> None:
    report = detect_drift(split.reference, split.current, model)
    frame = report.to_frame()
    assert len(frame) == len(report.tests), "one row per test"
    for column in ("name", "kind", "statistic", "p_value", "threshold", "drifted", "verdict"):
        assert column in frame.columns, f"to_frame() should have a {column!r} column"
    markdown = report.to_markdown()
    assert all(t.name in markdown for t in report.tests), "markdown should list every test"
    assert "residual_bias.current_bias" in report.summary(), "summary should report the bias"


class PerSquareMetre:
    """A fixed model: 9,000 BRL per m² everywhere (no fitting, so any size is cheap)."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return 9_000.0 * X["square_foot"].to_numpy(float)


def large_market(split: Split, rows: int = 200_000) -> pd.DataFrame:
    """``rows`` listings resampled from the reference, prices jittered by 10 % (seeded)."""
    rng = np.random.default_rng(5)
    picked = split.reference.iloc[rng.integers(0, len(split.reference), rows)]
    noise = np.exp(rng.normal(0, 0.1, rows))
    return picked.assign(price=picked["price"].to_numpy() * noise).reset_index(drop=True)


@pytest.fixture(scope="module")
def large(split: Split) -> pd.DataFrame:
    return large_market(split)


def raised(frame: pd.DataFrame, change: float) -> pd.DataFrame:
    return frame.assign(price=frame["price"] * (1 + change))


@pytest.mark.parametrize("change", [0.005, -0.005, 0.01])
def test_a_significant_but_small_price_change_is_immaterial(large: pd.DataFrame, change) -> None:
    # given 200,000 listings whose prices moved by 1 % or less, nothing else changed
    current = raised(large, change)
    # when drift is checked with a model
    report = detect_drift(large, current, PerSquareMetre())
    # then the model's bias is significant, but below the 2 % minimum: no drift (immaterial)
    bias = report.test("residual_bias")
    assert bias.significant, f"a {change:+.1%} change at 200 k rows should be significant"
    assert not bias.material, f"{bias.effect:+.4f} is below the 2 % minimum"
    assert bias.effect == pytest.approx(change, abs=1e-9), "the effect is the price change"
    assert bias.verdict == IMMATERIAL, f"test verdict {bias.verdict}"
    assert report.verdict == IMMATERIAL, f"expected immaterial, got:\n{report.to_markdown()}"
    assert not report.drift_detected, "an immaterial change must not be drift"
    assert report.passed, "an immaterial change passes the no_drift check"
    assert "residual_bias" in report.immaterial_tests, report.immaterial_tests


@pytest.mark.parametrize("change", [0.03, -0.05, 0.10])
def test_a_significant_and_material_change_is_drift(large: pd.DataFrame, change) -> None:
    # given 200,000 listings whose prices moved by 3 % or more
    report = detect_drift(large, raised(large, change), PerSquareMetre())
    # then the bias and the price level both flag drift
    assert report.verdict == DRIFT, f"expected drift, got:\n{report.to_markdown()}"
    for name in ("residual_bias", "price", "price_per_m2"):
        entry = report.test(name)
        assert (entry.significant, entry.material, entry.drifted) == (True, True, True), name
        assert entry.effect == pytest.approx(change, rel=1e-6), f"{name} effect {entry.effect}"
    assert not report.passed, "drift fails the no_drift check"


def test_a_large_effect_without_significance_is_no_drift(split: Split) -> None:
    # given a 30-row batch whose prices are 10 % higher (the noise of 30 listings is larger)
    current = raised(split.current.head(30), 0.10)
    # when drift is checked without a model
    report = detect_drift(split.reference, current)
    # then the price level effect is material, but not significant: no drift
    entry = report.test("price")
    assert entry.material, f"a {entry.effect:+.1%} level change is above the 2 % minimum"
    assert not entry.significant, f"30 rows should not make it significant: {entry.p_adjusted}"
    assert entry.verdict == NO_DRIFT, entry.verdict
    assert report.verdict == NO_DRIFT, f"expected no drift, got:\n{report.to_markdown()}"


@pytest.mark.parametrize(
    ("thresholds", "change", "verdict"),
    [
        (DriftThresholds(price_change=0.10), 0.05, IMMATERIAL),
        (DriftThresholds(price_change=0.0), 0.005, DRIFT),
        (DriftThresholds(price_change=0.004), 0.005, DRIFT),
        (DriftThresholds(price_change=0.006), 0.005, IMMATERIAL),
    ],
)
def test_thresholds_are_configurable(large: pd.DataFrame, thresholds, change, verdict) -> None:
    # when the same change is judged against another minimum price change
    report = detect_drift(large, raised(large, change), PerSquareMetre(), thresholds=thresholds)
    # then the verdict follows that minimum, and the report shows it
    assert report.verdict == verdict, f"expected {verdict}:\n{report.to_markdown()}"
    assert report.test("residual_bias").min_effect == thresholds.price_change


def test_feature_distance_threshold_decides_a_small_move(split: Split) -> None:
    # given 100 k listings moved 50 m north (a tiny share of the city's spread)
    reference = large_market(split, 100_000)
    current = reference.assign(latitude=reference["latitude"] + 0.00045)
    # when drift is checked with the default and with a tiny feature minimum
    default = detect_drift(reference, current)
    strict = detect_drift(reference, current, thresholds=DriftThresholds(feature_distance=0.001))
    # then the move is significant; immaterial by default, drift under the tiny minimum
    assert default.test("latitude").significant, "a 50 m move at 100 k rows is significant"
    assert default.verdict == IMMATERIAL, default.to_markdown()
    assert strict.drifted_tests == ["latitude"], strict.to_markdown()


@pytest.mark.parametrize(
    "bad",
    [{"price_change": -0.01}, {"feature_distance": float("nan")}, {"error_increase": np.inf}],
)
def test_bad_thresholds_are_named(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        DriftThresholds(**bad)


def test_report_shows_p_value_effect_minimum_and_verdict(large: pd.DataFrame) -> None:
    report = detect_drift(large, raised(large, 0.005), PerSquareMetre())
    frame = report.to_frame().set_index("name")
    for column in ("p_value", "p_adjusted", "effect", "min_effect", "significant", "material"):
        assert column in frame.columns, f"to_frame() should have a {column!r} column"
    assert frame.loc["residual_bias", "min_effect"] == 0.02, "default price minimum is 2 %"
    assert frame.loc["latitude", "min_effect"] == 0.1, "default feature minimum is 0.1"
    assert frame.loc["neighborhood", "effect_label"] == "Jensen-Shannon distance"
    markdown = report.to_markdown()
    for text in ("p-value", "min effect", "no drift (immaterial)", "1 significant but immaterial"):
        assert text in markdown, f"markdown should show {text!r}:\n{markdown}"
    assert report.summary()["immaterial_tests"] == ["residual_bias"], report.summary()


def test_effect_sizes() -> None:
    x = np.arange(10.0)
    assert normed_wasserstein(x, x + 1.5) == pytest.approx(1.5 / np.std(x)), "shift / std"
    assert normed_wasserstein(x, x) == 0.0, "same sample, no distance"
    assert normed_wasserstein(np.ones(5), np.full(5, 2.0)) == np.inf, "constant reference"
    assert jensen_shannon(np.array([5, 5]), np.array([1, 1])) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(np.array([5, 0]), np.array([0, 3])) == pytest.approx(1.0)
    assert log_level_change(np.array([1.0, 4.0]), np.array([2.0, 8.0])) == pytest.approx(1.0)


def test_chart_shows_effects_against_their_minimums(large: pd.DataFrame) -> None:
    # given a report with an immaterial change
    current = raised(large.head(5_000), 0.005)
    report = detect_drift(large.head(5_000), current, PerSquareMetre())
    # when the chart is drawn with and without the report
    with_effects = drift_chart(large.head(5_000), current, PerSquareMetre(), "batch", report)
    without = drift_chart(large.head(5_000), current, PerSquareMetre(), "batch")
    # then both are markdown PNG images, the one with the effects panel wider
    for chart in (with_effects, without):
        assert chart.startswith("![batch](data:image/png;base64,"), chart[:60]
    assert len(with_effects) > len(without), "the effects panel adds to the image"
