"""Cleaning on small hand-written raw frames, one messy case at a time."""

import math

import pandas as pd
import pytest

from bh_pricing.contract import Bounds
from bh_pricing.core.cleaning import clean_listings
from bh_pricing_tests.conftest import raw_frame


def only_clean_row(raw: pd.DataFrame) -> pd.Series:
    result = clean_listings(raw)
    assert len(result.clean) == 1, f"expected one clean row, quarantine: {result.quarantined}"
    return result.clean.iloc[0]


def only_reason(raw: pd.DataFrame) -> str:
    result = clean_listings(raw)
    assert len(result.quarantined) == 1, f"expected one quarantined row, got {result.quarantined}"
    return result.quarantined["reason"].iloc[0]


def test_padded_strings_are_stripped():
    row = only_clean_row(raw_frame({"neighborhood": "  Lourdes ", "city": " Belo Horizonte "}))
    assert row["neighborhood"] == "lourdes", "neighborhood should be its canonical key"
    assert row["neighborhood_name"] == "Lourdes", "the display name keeps the spelling, stripped"
    assert row["city"] == "Belo Horizonte", "city should be stripped"


@pytest.mark.parametrize(
    ("column", "clean_column", "text", "expected"),
    [
        ("square-foot", "square_foot", "45-65", 55.0),
        ("rooms", "rooms", "2-3", 2.5),
        ("garage-places", "garage_places", "1-2", 1.5),
        ("square-foot", "square_foot", " 102.0 ", 102.0),
    ],
)
def test_ranges_resolve_to_their_midpoint(column, clean_column, text, expected):
    row = only_clean_row(raw_frame({column: text}))
    assert row[clean_column] == expected, f"{text!r} should become {expected}"


def test_double_dash_garage_means_no_garage():
    assert only_clean_row(raw_frame({"garage-places": "--"}))["garage_places"] == 0.0


def test_double_dash_rooms_is_quarantined():
    assert only_reason(raw_frame({"rooms": "--"})) == "rooms: missing (--)"


def test_blank_fee_means_no_fee():
    assert only_clean_row(raw_frame({"adm-fees": ""}))["adm_fees"] == 0.0


def test_blank_price_is_quarantined():
    assert only_reason(raw_frame({"price": ""})) == "price: missing (blank)"


def test_unparseable_value_is_quarantined_with_the_value():
    assert only_reason(raw_frame({"square-foot": "abc"})) == "square-foot: unparseable value 'abc'"


def test_missing_neighborhood_is_quarantined():
    assert only_reason(raw_frame({"neighborhood": "  "})) == "neighborhood: missing (blank)"


@pytest.mark.parametrize(
    ("column", "text", "reason_start"),
    [
        ("price", "450.0", "price: out of range [100000, 4e+06]"),
        ("price", "130000000.0", "price: out of range"),
        ("square-foot", "20000", "square_foot: out of range [10, 1000]"),
        ("rooms", "9", "rooms: out of range [1, 6]"),
        ("garage-places", "7", "garage_places: out of range [0, 6]"),
    ],
)
def test_out_of_range_rows_are_quarantined(column, text, reason_start):
    reason = only_reason(raw_frame({column: text}))
    assert reason.startswith(reason_start), f"unexpected reason {reason!r}"


def test_bounds_are_configurable():
    raw = raw_frame({"price": "50000.0"})
    result = clean_listings(raw, Bounds(price=(1e4, 4e6)))
    assert len(result.clean) == 1, "a 50k price is accepted when the lower bound is 10k"


def test_exact_duplicates_are_quarantined_and_point_to_the_first():
    raw = raw_frame({}, {"price": "600000.0"}, {})
    result = clean_listings(raw)
    assert len(result.clean) == 2, "the first copy and the different row stay"
    assert result.quarantined["reason"].tolist() == ["duplicate of raw row 0"]
    assert result.quarantined["raw_row"].tolist() == [2]


def test_padding_differences_still_count_as_duplicates():
    raw = raw_frame({"neighborhood": "Centro"}, {"neighborhood": "  Centro  "})
    assert clean_listings(raw).quarantined["reason"].tolist() == ["duplicate of raw row 0"]


def test_coordinates_outside_the_metro_area_become_missing():
    raw = raw_frame({"latitude": "-18.8647762", "longitude": "-41.1217768"})
    result = clean_listings(raw)
    row = result.clean.iloc[0]
    assert math.isnan(row["latitude"]), "latitude outside Belo Horizonte should be cleared"
    assert math.isnan(row["longitude"]), "longitude outside Belo Horizonte should be cleared"
    assert result.coordinates_cleared == 1, "the cleared row should be counted"


def test_every_raw_row_is_accounted_for():
    raw = raw_frame({}, {"rooms": "--"}, {"price": ""}, {}, {"square-foot": "45-65"})
    result = clean_listings(raw)
    assert len(result.clean) + len(result.quarantined) == len(raw), "no row may disappear"
    assert result.reasons == {"rooms: missing": 1, "price: missing": 1, "duplicate": 1}


def test_first_reason_wins_when_a_row_has_several_problems():
    reason = only_reason(raw_frame({"price": "", "rooms": "--"}))
    assert reason == "price: missing (blank)", "the first problem found is reported"


def test_missing_columns_fail_with_their_names():
    raw = raw_frame({}).drop(columns=["price", "rooms"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['price', 'rooms'\]"):
        clean_listings(raw)


def test_clean_columns_are_snake_case_and_numeric():
    clean = clean_listings(raw_frame({})).clean
    assert list(clean.columns) == [
        "neighborhood",
        "square_foot",
        "rooms",
        "garage_places",
        "adm_fees",
        "latitude",
        "longitude",
        "price",
        "address",
        "city",
        "neighborhood_name",
    ]
    numeric = clean.drop(columns=["neighborhood", "address", "city", "neighborhood_name"])
    assert all(dtype == "float64" for dtype in numeric.dtypes), f"dtypes: {numeric.dtypes}"


MISSING_WORDS_SEEN = ["nan", "NaN", "NULL", "null", "N/A", "-", "", " none "]


@pytest.mark.parametrize("word", MISSING_WORDS_SEEN)
@pytest.mark.parametrize(
    ("column", "clean_column", "expected"),
    [
        ("garage-places", "garage_places", 0.0),
        ("adm-fees", "adm_fees", 0.0),
    ],
)
def test_missing_words_mean_what_a_blank_means(word, column, clean_column, expected):
    assert only_clean_row(raw_frame({column: word}))[clean_column] == expected


@pytest.mark.parametrize("word", MISSING_WORDS_SEEN)
@pytest.mark.parametrize("column", ["latitude", "longitude"])
def test_missing_word_in_a_coordinate_clears_both(word, column):
    row = only_clean_row(raw_frame({column: word}))
    assert math.isnan(row["latitude"])
    assert math.isnan(row["longitude"])


@pytest.mark.parametrize("word", MISSING_WORDS_SEEN)
@pytest.mark.parametrize("column", ["price", "square-foot", "rooms"])
def test_missing_word_in_a_required_column_is_quarantined_as_missing(word, column):
    reason = only_reason(raw_frame({column: word}))
    assert reason.startswith(f"{column}: missing"), reason


@pytest.mark.parametrize("fee", ["1.0", "1.200", "15", "5000000000", "380000.0", "-1"])
def test_implausible_fees_are_cleared_and_counted(fee):
    result = clean_listings(raw_frame({"adm-fees": fee}, {"adm-fees": "700", "price": "7e5"}))
    assert result.clean["adm_fees"].tolist() == [0.0, 700.0], f"fee {fee} means no fee"
    assert result.fees_cleared == 1


def test_fee_bounds_are_configurable():
    result = clean_listings(raw_frame({"adm-fees": "1.0"}), Bounds(adm_fees=(1.0, 1e6)))
    assert result.clean["adm_fees"].tolist() == [1.0]
    assert result.fees_cleared == 0


@pytest.mark.parametrize(
    "spelling", ["LOURDES", " lourdes ", "Lourdés", "Lour\u0301des", "lourdes  ", "LoUrDeS"]
)
def test_neighborhood_spellings_share_the_canonical_key(spelling):
    raw = raw_frame({"neighborhood": "Lourdes"}, {"neighborhood": spelling, "price": "7e5"})
    assert clean_listings(raw).clean["neighborhood"].tolist() == ["lourdes", "lourdes"]


def test_a_variant_spelling_of_the_same_listing_is_a_duplicate():
    raw = raw_frame({"neighborhood": "Lourdes"}, {"neighborhood": " LOURDÉS"})
    assert clean_listings(raw).quarantined["reason"].tolist() == ["duplicate of raw row 0"]


def test_neighborhood_display_name_is_the_most_frequent_spelling():
    raw = raw_frame(
        {"neighborhood": "Santo Antônio", "price": "6e5"},
        {"neighborhood": "SANTO ANTONIO", "price": "7e5"},
        {"neighborhood": "Santo  Antônio ", "price": "8e5"},
    )
    clean = clean_listings(raw).clean
    assert clean["neighborhood"].tolist() == ["santo antonio"] * 3
    assert clean["neighborhood_name"].tolist() == ["Santo Antônio"] * 3


@pytest.mark.parametrize("word", ["NULL", "nan", "N/A"])
def test_missing_word_as_neighborhood_is_quarantined(word):
    assert only_reason(raw_frame({"neighborhood": word})) == "neighborhood: missing (blank)"


def with_ids(raw: pd.DataFrame, *ids: str) -> pd.DataFrame:
    """The raw frame with a ``listing_id`` column, as a landed batch may carry."""
    return raw.assign(listing_id=pd.Series(ids, dtype="string"))


def test_listing_ids_are_kept_stripped_beside_the_clean_columns():
    raw = with_ids(raw_frame({}, {"price": "600000.0"}), " A-1 ", "b2")
    clean = clean_listings(raw).clean
    assert list(clean.columns[-2:]) == ["neighborhood_name", "listing_id"], list(clean.columns)
    assert clean["listing_id"].tolist() == ["A-1", "b2"], "ids are stripped, case kept"


@pytest.mark.parametrize("word", ["", "  ", "--", "-", "NULL", "n/a", "None", "nan"])
def test_a_missing_word_as_listing_id_is_null(word):
    clean = clean_listings(with_ids(raw_frame({}, {"price": "600000.0"}), word, "B")).clean
    assert clean["listing_id"].isna().tolist() == [True, False], f"{word!r} means no id"


def test_a_column_of_missing_ids_is_all_null():
    clean = clean_listings(with_ids(raw_frame({}, {"price": "600000.0"}), "", "--")).clean
    assert clean["listing_id"].isna().all(), clean["listing_id"].tolist()


def test_a_file_without_ids_is_cleaned_as_before():
    result = clean_listings(raw_frame({}, {"rooms": "--"}))
    assert "listing_id" not in result.clean.columns
    assert "listing_id" not in result.quarantined.columns


def test_duplicates_are_judged_on_the_kaggle_columns_only():
    # given the same flat listed twice under two ids, and a distinct flat under a repeated id
    raw = with_ids(raw_frame({}, {}, {"price": "600000.0"}), "A", "B", "A")
    result = clean_listings(raw)
    # then the second listing of the flat is a duplicate, whatever its id, and keeps it
    assert result.quarantined["reason"].tolist() == ["duplicate of raw row 0"]
    assert result.quarantined["listing_id"].tolist() == ["B"]
    # and a different row is not a duplicate because its id repeats
    assert result.clean["listing_id"].tolist() == ["A", "A"]


def test_quarantined_rows_keep_their_raw_id():
    raw = with_ids(raw_frame({"rooms": "--"}, {"price": ""}, {}), " X1 ", "--", "Z")
    quarantined = clean_listings(raw).quarantined
    assert quarantined["listing_id"].tolist() == [" X1 ", "--"], "the raw text, as landed"
    assert quarantined["reason"].tolist() == ["rooms: missing (--)", "price: missing (blank)"]
