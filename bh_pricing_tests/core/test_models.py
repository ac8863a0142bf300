"""Candidate models: reproducible fits, the pyfunc contract's edge cases, one model per search."""

import numpy as np
import pandas as pd
import pytest

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.models import CANDIDATES, fit_candidate, split_features_target
from bh_pricing.core.sample import generate_raw_listings


@pytest.fixture(scope="module")
def listings() -> pd.DataFrame:
    return clean_listings(generate_raw_listings(600, seed=5)).clean.reset_index(drop=True)


def test_gradient_boosting_is_reproducible(listings):
    train, test = listings.iloc[:450], listings.iloc[450:]
    features, _ = split_features_target(test)
    spec = CANDIDATES["gradient_boosting"]
    first = fit_candidate(spec, train).estimator.predict(features)
    second = fit_candidate(spec, train).estimator.predict(features)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_candidates_price_unknown_neighborhoods_and_missing_coordinates(listings, name):
    estimator = fit_candidate(CANDIDATES[name], listings, folds=3).estimator
    features, _ = split_features_target(listings.iloc[:4])
    features = features.assign(neighborhood="Nowhere Known")
    features.loc[features.index[:2], ["latitude", "longitude"]] = np.nan
    predicted = estimator.predict(features)
    assert predicted.shape == (4,)
    assert np.isfinite(predicted).all()
    assert (predicted > 0).all()


def test_search_returns_the_best_trial_and_its_table(listings):
    fitted = fit_candidate(CANDIDATES["ridge"], listings, folds=3)
    table = fitted.search_results
    assert table is not None
    assert len(table) == CANDIDATES["ridge"].search_trials == 27
    assert table["cv_rmse"].is_monotonic_increasing
    best = table.iloc[0]
    assert fitted.params["alpha"] == best["alpha"]
    assert fitted.params["min_frequency"] == best["min_frequency"]


@pytest.mark.parametrize("name", ["baseline", "gradient_boosting", "comparables"])
def test_candidates_without_a_grid_search_nothing(listings, name):
    spec = CANDIDATES[name]
    fitted = fit_candidate(spec, listings.iloc[:200], folds=3)
    assert spec.search_trials == 0
    assert fitted.search_results is None
