"""The sample generator reproduces the raw format and its defects, deterministically."""

import pandas as pd
import pytest

from bh_pricing.constants import RAW_COLUMNS
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.sample import generate_raw_listings


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return generate_raw_listings(3000, seed=7)


def test_same_seed_same_frame(raw):
    pd.testing.assert_frame_equal(raw, generate_raw_listings(3000, seed=7))
    assert not raw.equals(generate_raw_listings(3000, seed=8)), "another seed, another frame"


def test_format_is_the_kaggle_one(raw):
    assert list(raw.columns) == list(RAW_COLUMNS)
    assert all(raw[c].map(type).eq(str).all() for c in raw.columns), "every value is text"


@pytest.mark.parametrize(
    ("column", "pattern", "what"),
    [
        ("neighborhood", r"^\s", "padded neighborhoods"),
        ("square-foot", r"^\d+-\d+$", "area ranges"),
        ("rooms", r"^--$", "'--' rooms"),
        ("garage-places", r"^--$", "'--' garages"),
        ("adm-fees", r"^$", "blank fees"),
    ],
)
def test_messiness_is_present(raw, column, pattern, what):
    assert raw[column].str.contains(pattern).sum() > 0, f"expected some {what}"


def test_cleaning_finds_every_kind_of_defect(raw):
    result = clean_listings(raw)
    for kind in (
        "duplicate",
        "rooms: missing",
        "price: missing",
        "price: out of range [100000, 4e+06]",
    ):
        assert result.reasons.get(kind, 0) > 0, f"expected quarantined rows for {kind!r}"
    assert result.coordinates_cleared > 0, "some coordinates lie outside Belo Horizonte"
    assert 0.7 < len(result.clean) / len(raw) < 0.95, "most rows survive cleaning"


def test_price_levels_follow_neighborhoods(raw):
    clean = clean_listings(raw).clean
    per_m2 = (clean["price"] / clean["square_foot"]).groupby(clean["neighborhood_name"]).median()
    assert per_m2["Lourdes"] > 1.8 * per_m2["Venda Nova"], "Lourdes is pricier than Venda Nova"


def test_rejects_non_positive_size():
    with pytest.raises(ValueError, match="n_rows must be positive"):
        generate_raw_listings(0)
