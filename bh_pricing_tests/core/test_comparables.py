"""The comparables adjustment: relisted flats priced from their twin, nothing else disturbed."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from bh_pricing.core.comparables import ComparablesAdjusted, comparable_features

NUMERIC = ["square_foot", "rooms", "garage_places", "adm_fees", "latitude", "longitude"]


def _listings(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Located flats whose log price is linear in area plus a per-flat premium the features miss."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "square_foot": rng.integers(40, 250, n).astype(float),
            "rooms": rng.integers(1, 5, n).astype(float),
            "garage_places": rng.integers(0, 3, n).astype(float),
            "adm_fees": rng.integers(0, 1500, n).astype(float),
            "latitude": -19.92 + rng.normal(0, 0.02, n),
            "longitude": -43.94 + rng.normal(0, 0.02, n),
        }
    )
    log_price = 11 + 0.9 * np.log(frame["square_foot"]) + rng.normal(0, 0.3, n)
    return frame, log_price.to_numpy()


def _fitted(frame: pd.DataFrame, log_price: np.ndarray) -> ComparablesAdjusted:
    base = make_pipeline(SimpleImputer(), LinearRegression())
    return ComparablesAdjusted(base).fit(frame[NUMERIC], log_price)


def test_a_relisted_flat_is_priced_from_its_twin():
    # given training flats with a premium the base model cannot see
    frame, log_price = _listings()
    model = _fitted(frame, log_price)
    # when one of them is offered again (same address, area, rooms, parking, fees)
    twin = frame.iloc[[7]]
    # then the prediction is (nearly) its training price, while the base alone misses it
    base_error = abs(model.base_.predict(twin)[0] - log_price[7])
    assert base_error > 0.05, "the fixture should give the base model something to miss"
    assert model.predict(twin)[0] == pytest.approx(log_price[7], abs=0.02 * base_error + 1e-3)


def test_a_flat_without_comparables_keeps_the_base_prediction():
    frame, log_price = _listings()
    model = _fitted(frame, log_price)
    # a flat 500 m from every training flat, and one without coordinates
    query = frame.iloc[[3, 4]].copy()
    query.iloc[0, query.columns.get_loc("latitude")] += 0.3
    query.iloc[1, query.columns.get_loc("latitude")] = np.nan
    np.testing.assert_allclose(model.predict(query), model.base_.predict(query), atol=1e-12)


def test_a_different_size_at_the_same_address_is_not_a_comparable():
    frame, log_price = _listings()
    model = _fitted(frame, log_price)
    larger = frame.iloc[[7]].assign(square_foot=frame["square_foot"].iloc[7] * 1.5)
    assert model.correction(larger)[0] == pytest.approx(0.0, abs=1e-6)


def test_rows_without_coordinates_are_left_out_of_the_reference():
    frame, log_price = _listings()
    frame.loc[:9, "latitude"] = np.nan
    model = _fitted(frame, log_price)
    assert len(model.reference_) == len(frame) - 10
    assert np.isfinite(model.residuals_).all()


def test_clone_and_parameters_follow_scikit_learn_conventions():
    model = ComparablesAdjusted(make_pipeline(LinearRegression()), distance_m=5.0)
    copy = clone(model)
    assert copy.get_params()["distance_m"] == 5.0
    assert not hasattr(copy, "base_")


def test_missing_columns_and_bad_scales_are_named():
    frame, log_price = _listings(20)
    with pytest.raises(ValueError, match=r"\['adm_fees'\]"):
        comparable_features(frame.drop(columns="adm_fees"))
    with pytest.raises(ValueError, match="distance_m"):
        ComparablesAdjusted(make_pipeline(LinearRegression()), distance_m=0).fit(
            frame[NUMERIC], log_price
        )
