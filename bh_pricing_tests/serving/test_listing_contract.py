"""The endpoint and cleaning read listings with one contract: same accept/reject, same values,
and every spelling of a known neighborhood prices like it."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pytest
from pydantic import ValidationError

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.serving.runtime import load_bundle
from bh_pricing.serving.schemas import Listing
from bh_pricing_tests.conftest import raw_frame

CHANGES = [
    {},
    {"square-foot": "45-65"},
    {"rooms": "2-3"},
    {"garage-places": "1-2"},
    {"square-foot": " 102.0 "},
    {"garage-places": "--"},
    {"garage-places": "NULL"},
    {"adm-fees": ""},
    {"adm-fees": "nan"},
    {"adm-fees": "N/A"},
    {"adm-fees": "1.200"},
    {"adm-fees": "5000000000"},
    {"adm-fees": "1.0"},
    {"adm-fees": "-"},
    {"latitude": "NaN", "longitude": "NaN"},
    {"latitude": "null"},
    {"latitude": "-18.86", "longitude": "-41.12"},
    {"rooms": "--"},
    {"rooms": "null"},
    {"rooms": "9"},
    {"rooms": "0"},
    {"rooms": "three"},
    {"square-foot": "20000"},
    {"square-foot": "5"},
    {"square-foot": "abc"},
    {"square-foot": ""},
    {"garage-places": "7"},
    {"latitude": "north"},
    {"neighborhood": "NULL"},
    {"neighborhood": "  "},
    {"neighborhood": " LOURDES "},
]


def through_cleaning(change: dict[str, str]) -> dict[str, object] | None:
    result = clean_listings(raw_frame(change))
    if result.clean.empty:
        return None
    return result.clean.iloc[0][list(FEATURE_COLUMNS)].to_dict()


def through_the_endpoint(change: dict[str, str]) -> dict[str, object] | None:
    row = raw_frame(change).iloc[0].to_dict()
    try:
        listing = Listing.model_validate(row)
    except ValidationError:
        return None
    return listing.model_dump()


@pytest.mark.parametrize("change", CHANGES, ids=[str(c) for c in CHANGES])
def test_the_endpoint_accepts_exactly_what_cleaning_keeps(change):
    cleaned, served = through_cleaning(change), through_the_endpoint(change)
    assert (cleaned is None) == (served is None), f"cleaning {cleaned}, endpoint {served}"
    if cleaned is None:
        return
    for name in FEATURE_COLUMNS[1:]:
        a, b = cleaned[name], served[name]
        both_missing = (a is None or math.isnan(a)) and b is None
        assert both_missing or a == b, f"{name}: cleaning {a}, endpoint {b}"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("square-foot", "20000", "out of range [10, 1000]"),
        ("square_foot", 9, "out of range [10, 1000]"),
        ("rooms", "7-9", "out of range [1, 6]"),
        ("rooms", "--", "missing (--)"),
        ("garage-places", 10, "out of range [0, 6]"),
    ],
)
def test_rejections_name_the_field(field, value, problem):
    listing = {"neighborhood": "Savassi", "square_foot": 90, "rooms": 3}
    listing.pop(field.replace("-", "_"), None)
    listing[field] = value
    with pytest.raises(ValidationError) as caught:
        Listing.model_validate(listing)
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert problem in error["msg"]


def spellings(name: str) -> list[str]:
    bare = "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))
    return [
        name,
        name.upper(),
        name.lower(),
        f"  {name}  ",
        name.replace(" ", "  "),
        bare,
        unicodedata.normalize("NFD", name),
        unicodedata.normalize("NFC", name).swapcase(),
    ]


@pytest.mark.parametrize("display", ["Lourdes", "Santo Antônio", "Funcionários", "Sion"])
def test_every_spelling_prices_like_the_known_neighborhood(bundle_root, listings, display):
    model = load_bundle(bundle_root)
    known = listings.loc[listings["neighborhood_name"] == display, "neighborhood"].iloc[0]
    variants = spellings(display)
    base = {"square_foot": 90.0, "rooms": 3.0, "garage_places": 1.0, "adm_fees": 700.0}
    records = [{**base, "neighborhood": v, "latitude": None, "longitude": None} for v in variants]
    prices = model.predict_records([*records, {**records[0], "neighborhood": known}])
    np.testing.assert_array_equal(prices, np.full(len(prices), prices[-1]))
    assert all(model.knows_neighborhood(v) for v in variants)
    assert not model.knows_neighborhood("Nowhere Known")
