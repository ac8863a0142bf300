"""The comparables adjustment: relisted flats priced from their twin, nothing else disturbed."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from bh_pricing.core import comparables as comparables_module
from bh_pricing.core.comparables import COUNT, ComparablesAdjusted, comparable_features
from bh_pricing.core.spatial import METRES_PER_DEGREE

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
    assert model.entries_[:, COUNT].sum() == len(frame) - 10
    assert np.isfinite(model.entries_).all()
    assert model.dropped_rows_ == 0


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


def brute_force_correction(model: ComparablesAdjusted, train: pd.DataFrame, y, query) -> np.ndarray:
    """Reference: the kernel over every located training row, as before any index or cap."""
    reference = comparable_features(train)
    residuals = y - model.base_.predict(train[NUMERIC])
    located = ~np.isnan(reference).any(axis=1)
    reference, residuals = reference[located], residuals[located]
    features = comparable_features(query)
    delta = features[:, None, :] - reference[None, :, :]
    log_weight = (
        -(delta[..., 0] ** 2 + delta[..., 1] ** 2) / (2 * model.distance_m**2)
        - delta[..., 2] ** 2 / (2 * model.area_scale**2)
        - model.rooms_penalty * np.abs(delta[..., 3])
        - model.garage_penalty * np.abs(delta[..., 4])
        - model.fees_penalty * np.abs(delta[..., 5])
    )
    weights = np.nan_to_num(np.exp(log_weight), nan=0.0)
    return weights @ residuals / (model.prior_weight + weights.sum(axis=1))


def _buildings(seed: int, spread_m: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Flats grouped in buildings (several per address, some relisted), jittered by spread_m."""
    frame, log_price = _listings(400, seed)
    rng = np.random.default_rng(seed)
    building = rng.integers(0, 60, len(frame))
    frame["latitude"] = -19.92 + building * 40 / METRES_PER_DEGREE
    frame["latitude"] += rng.normal(0, spread_m, len(frame)) / METRES_PER_DEGREE
    twins = rng.choice(len(frame), 80, replace=False)
    frame.iloc[twins[:40]] = frame.iloc[twins[40:]].to_numpy()
    log_price[twins[:40]] = log_price[twins[40:]] + rng.normal(0, 0.03, 40)
    return frame, log_price


@pytest.mark.parametrize(("seed", "spread_m"), [(0, 0.0), (1, 3.0), (2, 8.0)])
def test_the_cell_index_matches_the_brute_force_kernel(seed, spread_m):
    # given flats in buildings (same or nearby coordinates, across cell boundaries), some relisted
    frame, log_price = _buildings(seed, spread_m)
    model = _fitted(frame, log_price)
    query = pd.concat([frame.iloc[:150], _listings(100, seed + 7)[0]], ignore_index=True)
    query.loc[3:8, "square_foot"] *= 1.03
    # when corrections are read through the cell index
    indexed = model.correction(query)
    # then they equal the all-pairs kernel (the cut-off removes weights below 4e-6)
    exact = brute_force_correction(model, frame, log_price, query)
    np.testing.assert_allclose(indexed, exact, atol=1e-4)
    assert np.abs(exact).max() > 0.05, "the fixture should have comparables to find"


def test_identical_rows_are_one_entry_with_their_count():
    frame, log_price = _listings(50)
    doubled = pd.concat([frame, frame.iloc[:10]], ignore_index=True)
    model = _fitted(doubled, np.concatenate([log_price, log_price[:10] + 0.1]))
    assert len(model.cell_keys_) <= 50
    assert model.entries_[:, COUNT].max() == 2
    assert model.entries_[:, COUNT].sum() == 60


def test_the_caps_keep_the_largest_residuals_and_say_what_was_dropped(monkeypatch):
    # given caps far below the training rows
    monkeypatch.setattr(comparables_module, "MAX_ENTRIES", 40)
    frame, log_price = _listings(300)
    model = _fitted(frame, log_price)
    residuals = np.abs(log_price - model.base_.predict(frame[NUMERIC]))
    # then 40 entries remain, those with the largest residuals, and the rest is accounted for
    kept = model.entries_[:, COUNT] > 0
    assert kept.sum() == 40
    assert model.dropped_rows_ == 260
    assert model.dropped_residual_max_ == pytest.approx(np.sort(residuals)[-41])
    assert np.abs(model.entries_[kept, 7]).min() >= model.dropped_residual_max_ - 1e-12
