"""Input drift of logged requests: feature tests only, canonical neighborhoods, small logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.cleaning import NEIGHBORHOOD_NAME, clean_listings
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.monitoring import DRIFT, INSUFFICIENT, detect_input_drift
from bh_pricing.monitoring.input_drift import NOT_ENOUGH, input_drift, requested_features
from bh_pricing.monitoring.plots import input_drift_chart
from bh_pricing.serving.log_reader import LOG_COLUMNS


@pytest.fixture(scope="module")
def market() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference listings and other listings of the same market (seeded sample)."""
    clean = clean_listings(generate_raw_listings(2400, seed=11)).clean
    order = np.random.default_rng(0).permutation(len(clean))
    half = len(clean) // 2
    return clean.iloc[order[:half]], clean.iloc[order[half:]]


def as_log(listings: pd.DataFrame, version: str = "3") -> pd.DataFrame:
    """Listings as the prediction log reads them: display-name spellings, no price."""
    log = listings.assign(
        neighborhood=listings[NEIGHBORHOOD_NAME].str.upper(),
        request_id=[f"r{i}" for i in range(len(listings))],
        item=0,
        time=pd.Timestamp("2026-01-31", tz="UTC"),
        model_version=version,
        listing_id=None,
        prediction=listings["price"] * 1.01,
    )
    return log.loc[:, list(LOG_COLUMNS)].reset_index(drop=True)


def test_requests_like_the_reference_do_not_drift_whatever_their_spelling(market) -> None:
    reference, requests = market
    # when requests of the same market (neighborhoods spelled in capitals) are compared
    result = input_drift(reference, as_log(requests), "3")
    # then the neighborhoods are compared by canonical key and nothing drifts
    assert result.report.passed, result.report.to_markdown()
    assert set(result.requests["neighborhood"]) <= set(reference["neighborhood"])
    assert result.report.test("neighborhood").verdict == "no drift"
    assert {t.kind for t in result.report.tests} == {"feature"}, "no price, no model: features"
    assert len(result.report.tests) == len(FEATURE_COLUMNS)
    assert result.compared == result.logged == len(requests)


@pytest.mark.parametrize(
    ("column", "change"),
    [("square_foot", 1.6), ("adm_fees", 2.5), ("rooms", None)],
)
def test_shifted_requests_drift_on_the_shifted_feature(market, column, change) -> None:
    reference, requests = market
    shifted = requests.copy()
    if change is None:
        shifted[column] = shifted[column].clip(upper=2)  # only small flats asked about
    else:
        shifted[column] = shifted[column] * change
    result = input_drift(reference, as_log(shifted), "3")
    assert result.report.verdict == DRIFT, result.report.to_markdown()
    assert column in result.report.drifted_tests
    chart = input_drift_chart(reference, result.requests, "requests", result.report)
    assert chart.startswith("![requests](data:image/png;base64,")


def test_one_neighborhood_asked_about_drifts_on_neighborhood(market) -> None:
    reference, requests = market
    top = requests["neighborhood"].value_counts().index[0]
    result = input_drift(reference, as_log(requests[requests["neighborhood"] == top]), "3")
    assert "neighborhood" in result.report.drifted_tests, result.report.to_markdown()


@pytest.mark.parametrize("rows", [0, 1, 29])
def test_empty_or_small_log_is_not_enough_predictions(market, rows: int) -> None:
    reference, requests = market
    result = input_drift(reference, as_log(requests.head(rows)), "3", min_rows=30)
    assert result.report.verdict == INSUFFICIENT
    assert not result.report.passed
    assert not result.report.drift_detected
    assert result.report.reason.startswith(f"{NOT_ENOUGH}: {rows} logged for model version 3")


def test_only_the_given_model_version_is_compared(market) -> None:
    reference, requests = market
    log = pd.concat([as_log(requests.head(20), "2"), as_log(requests.iloc[20:], "3")])
    assert input_drift(reference, log, "3").compared == len(requests) - 20
    assert input_drift(reference, log, "2").report.verdict == INSUFFICIENT
    every = input_drift(reference, log, None)
    assert every.compared == every.logged == len(requests)
    assert every.scope == "all versions"


def test_requested_features_are_model_features_with_canonical_neighborhoods(market) -> None:
    _, requests = market
    features = requested_features(as_log(requests.head(5)))
    assert list(features.columns) == list(FEATURE_COLUMNS)
    assert features["neighborhood"].tolist() == requests["neighborhood"].head(5).tolist()
    assert requested_features(as_log(requests.head(0))).empty


def test_input_drift_needs_the_features_only(market) -> None:
    reference, requests = market
    report = detect_input_drift(reference, requests.drop(columns=["price"]))
    assert report.passed
    with pytest.raises(ValueError, match=r"current listings are missing column\(s\) \['rooms'\]"):
        detect_input_drift(reference, requests.drop(columns=["rooms"]))
