"""Synthetic price shifts and the raw-format round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bh_pricing.constants import RAW_COLUMNS
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.shift import shift_prices, to_raw_format, write_batch


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return clean_listings(generate_raw_listings(400, seed=3)).clean


def test_prices_are_multiplied_by_factors_in_the_band(clean: pd.DataFrame) -> None:
    # given clean listings
    before = clean.copy()
    # when prices are shifted by the default 10-20 %
    shifted = shift_prices(clean, seed=1)
    # then each price is the original times its factor, and the factor is in [1.10, 1.20]
    assert shifted.factors.between(1.10, 1.20).all(), "every factor should be in [1.10, 1.20]"
    expected = clean["price"] * shifted.factors
    assert np.allclose(shifted.frame["price"], expected), "price should be original x factor"
    assert 0.10 <= shifted.true_shift <= 0.20, f"true shift {shifted.true_shift} outside band"
    others = [c for c in clean.columns if c != "price"]
    pd.testing.assert_frame_equal(shifted.frame[others], clean[others])
    pd.testing.assert_frame_equal(clean, before, obj="input listings (must not be modified)")


def test_same_seed_gives_the_same_shift(clean: pd.DataFrame) -> None:
    # given two shifts with one seed and one with another
    first, again = shift_prices(clean, seed=5), shift_prices(clean, seed=5)
    other = shift_prices(clean, seed=6)
    # then the seed alone decides the factors
    assert first.factors.equals(again.factors), "same seed should give the same factors"
    assert not first.factors.equals(other.factors), "another seed should give other factors"


def test_a_fixed_factor_when_low_equals_high(clean: pd.DataFrame) -> None:
    # when low == high
    shifted = shift_prices(clean, low=0.05, high=0.05)
    # then every price moves by exactly 5 %
    assert np.allclose(shifted.factors, 1.05), "low == high should give one factor, 1.05"
    assert shifted.summary()["true_shift"] == pytest.approx(0.05), "summary should say +5 %"


def test_resampling_draws_the_requested_rows(clean: pd.DataFrame) -> None:
    # when 50 rows are sampled without and 2 000 with replacement
    small = shift_prices(clean, sample_rows=50, seed=2)
    large = shift_prices(clean, sample_rows=2000, seed=2, replace=True)
    # then the batches have those sizes and keep the source index
    assert len(small.frame) == 50, "sample_rows=50 should give 50 rows"
    assert small.frame.index.is_unique, "sampling without replacement should not repeat rows"
    assert len(large.frame) == 2000, "sample_rows=2000 should give 2000 rows"
    assert large.frame.index.isin(clean.index).all(), "rows should keep their source index"
    assert small.factors.index.equals(small.frame.index), "factors should align with the rows"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": 0.3, "high": 0.2}, "low <= high"),
        ({"low": -1.0, "high": 0.1}, "-1 < low"),
        ({"sample_rows": 0}, "sample_rows must be positive"),
        ({"sample_rows": 10_000}, "pass replace=True"),
    ],
)
def test_bad_arguments_are_rejected(clean: pd.DataFrame, kwargs: dict, message: str) -> None:
    # when shift_prices gets an invalid argument, then the error says which
    with pytest.raises(ValueError, match=message):
        shift_prices(clean, **kwargs)


def test_empty_or_priceless_input_is_rejected(clean: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="empty"):
        shift_prices(clean.iloc[:0])
    with pytest.raises(ValueError, match="'price'"):
        shift_prices(clean.drop(columns="price"))


def test_raw_format_has_the_kaggle_columns_as_text(clean: pd.DataFrame) -> None:
    # when clean listings are turned back into the raw format
    raw = to_raw_format(clean)
    # then the columns are the Kaggle ones, all text, numbers without exponent
    assert tuple(raw.columns) == RAW_COLUMNS, f"columns should be {RAW_COLUMNS}"
    assert all(isinstance(v, str) for v in raw.to_numpy().ravel()), "every value should be text"
    assert not raw["price"].str.contains("e").any(), "prices should not use an exponent"
    missing_lat = clean["latitude"].isna().to_numpy()
    assert (raw.loc[missing_lat, "latitude"] == "").all(), "missing coordinates should be blank"


def test_cleaning_the_raw_format_gives_the_listings_back(clean: pd.DataFrame) -> None:
    # given a shifted batch that stays inside the price bounds
    shifted = shift_prices(clean[clean["price"] < 3e6], low=0.02, high=0.03, seed=4).frame
    # when it is written in the raw format and cleaned again
    result = clean_listings(to_raw_format(shifted))
    # then nothing is quarantined and the values come back exactly
    assert result.quarantined.empty, f"nothing should be quarantined: {result.reasons}"
    pd.testing.assert_frame_equal(result.clean, shifted.reset_index(drop=True))


def test_write_batch_writes_a_csv_the_cleaner_reads(clean: pd.DataFrame, tmp_path) -> None:
    # when a batch is written to the landing folder
    uri = write_batch(clean.head(20), str(tmp_path / "landing" / "batch-1.csv"))
    # then it is a Kaggle-format CSV with those 20 listings
    raw = pd.read_csv(uri, dtype=str, keep_default_na=False)
    assert tuple(raw.columns) == RAW_COLUMNS, "the CSV header should be the Kaggle columns"
    assert len(clean_listings(raw).clean) == 20, "all 20 listings should clean again"
    with pytest.raises(ValueError, match=r"\.csv"):
        write_batch(clean.head(2), str(tmp_path / "batch.parquet"))
