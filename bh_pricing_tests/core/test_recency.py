"""Training data as batches accumulate: every listing once, recent markets weigh more."""

import numpy as np
import pandas as pd
import pytest

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.models import CANDIDATES, fit_candidate, split_features_target
from bh_pricing.core.recency import (
    BASE_BATCH,
    RecencyPolicy,
    assemble_training_data,
    sample_weights,
)
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.spatial import SPATIAL_COLUMNS, SpatialPriceLevel


@pytest.fixture(scope="module")
def listings() -> pd.DataFrame:
    return clean_listings(generate_raw_listings(1200, seed=4)).clean.reset_index(drop=True)


def split(listings: pd.DataFrame, batch_sizes: tuple[int, ...] = (120, 80)):
    """Base train/test, then batches cut from the rest (oldest first)."""
    base_train, base_test = listings.iloc[:500], listings.iloc[500:600]
    batches, start = {}, 600
    for i, size in enumerate(batch_sizes):
        batches[f"batch-{i + 1}.csv"] = listings.iloc[start : start + size]
        start += size
    return base_train, base_test, batches


def test_every_listing_appears_exactly_once(listings):
    base_train, base_test, batches = split(listings)
    data = assemble_training_data(base_train, base_test, batches, RecencyPolicy())
    combined = pd.concat([data.train, data.test]).drop(columns=["batch", "sample_weight"])
    expected = pd.concat([base_train, base_test, *batches.values()])
    assert len(combined) == len(expected), "no row duplicated, none lost"
    assert not combined.duplicated().any(), "no listing repeated to weigh more"
    columns = list(expected.columns)
    pd.testing.assert_frame_equal(
        combined.sort_values(columns).reset_index(drop=True),
        expected.sort_values(columns).reset_index(drop=True),
        check_dtype=False,
    )


@pytest.mark.parametrize("half_life", [0.5, 1.0, 3.0])
def test_weights_decay_by_batch_age(listings, half_life):
    base_train, base_test, batches = split(listings, (100, 100, 100))
    data = assemble_training_data(base_train, base_test, batches, RecencyPolicy(half_life))
    weights = data.train.groupby("batch", sort=False)["sample_weight"].agg(["min", "max"])
    assert (weights["min"] == weights["max"]).all(), "one weight per batch"
    newest, base = weights.loc["batch-3.csv", "max"], weights.loc[BASE_BATCH, "max"]
    assert newest == 1.0
    assert base == pytest.approx(0.5 ** (3 / half_life)), "the original market is 3 batches old"
    assert weights.loc["batch-2.csv", "max"] == pytest.approx(0.5 ** (1 / half_life))
    test_weights = data.test.groupby("batch")["sample_weight"].first()
    assert (test_weights == weights["max"].reindex(test_weights.index)).all(), "test weighted alike"


def test_each_batch_keeps_a_holdout_and_the_table_counts_rows(listings):
    base_train, base_test, batches = split(listings)
    data = assemble_training_data(base_train, base_test, batches, RecencyPolicy(holdout_share=0.25))
    table = data.batches.set_index("batch")
    assert list(table.index) == [BASE_BATCH, "batch-1.csv", "batch-2.csv"]
    assert table.loc["batch-1.csv", "holdout_rows"] == 30
    assert table.loc["batch-1.csv", "train_rows"] == 90
    assert (data.test["batch"] == "batch-2.csv").sum() == 20
    assert table["train_rows"].sum() == len(data.train)


def test_without_batches_the_data_is_the_original_split_at_weight_one(listings):
    base_train, base_test, _ = split(listings)
    data = assemble_training_data(base_train, base_test, {}, RecencyPolicy())
    assert len(data.train) == len(base_train)
    assert (data.train["sample_weight"] == 1.0).all()
    assert list(data.batches["batch"]) == [BASE_BATCH]


def test_a_batch_too_small_to_split_is_named(listings):
    base_train, base_test, _ = split(listings)
    with pytest.raises(ValueError, match=r"batch 'tiny\.csv' has 1 listing"):
        assemble_training_data(
            base_train, base_test, {"tiny.csv": listings.iloc[:1]}, RecencyPolicy()
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"half_life_batches": 0}, "half_life"), ({"holdout_share": 1.0}, "holdout_share")],
)
def test_invalid_policies_are_rejected(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RecencyPolicy(**kwargs)


def test_leave_one_out_levels_never_contain_a_rows_own_price(listings):
    # given the weighted training data with two batches, and a negligible prior
    base_train, base_test, batches = split(listings)
    train = assemble_training_data(base_train, base_test, batches, RecencyPolicy()).train
    located = train.dropna(subset=["latitude", "longitude"]).reset_index(drop=True)
    X = located.loc[:, list(SPATIAL_COLUMNS)]
    y = np.log(located["price"].to_numpy())
    spatial = SpatialPriceLevel(prior_weight=1e-12)
    levels = spatial.fit_transform(X, y)
    # when one row's price changes, its own leave-one-out level does not move (up to the
    # float32 rounding of the lattice's kernel sums)
    changed = y.copy()
    changed[0] += 2.0
    np.testing.assert_allclose(spatial.fit_transform(X, changed)[0], levels[0], rtol=1e-4)
    # while repeating rows (what weights replace) would put the row's own price in its level
    repeated_X, repeated_y = pd.concat([X, X.iloc[:1]]), np.append(changed, changed[0])
    moved = spatial.fit_transform(repeated_X, repeated_y)[0, 0]
    assert abs(moved - levels[0, 0]) > 0.1, "a copy sits at distance 0 and leaks the price"


def test_sample_weights_reach_the_fit(listings):
    # given the newest batch priced 40 % higher
    base_train, base_test, batches = split(listings, (200,))
    shifted = {k: v.assign(price=v["price"] * 1.4) for k, v in batches.items()}
    data = assemble_training_data(base_train, base_test, shifted, RecencyPolicy(0.25))
    unweighted = data.train.drop(columns=["sample_weight"])
    weights = sample_weights(data.train)
    assert weights is not None
    assert sample_weights(unweighted) is None
    spec = CANDIDATES["baseline"]
    holdout = data.test[data.test["batch"] == "batch-1.csv"]
    features, price = split_features_target(holdout)
    plain = fit_candidate(spec, unweighted).estimator.predict(features)
    weighted = fit_candidate(spec, data.train, sample_weight=weights).estimator.predict(features)
    bias_plain, bias_weighted = np.mean(np.log(price / plain)), np.mean(np.log(price / weighted))
    assert abs(bias_weighted) < abs(bias_plain), "weighting the new market fits it better"
