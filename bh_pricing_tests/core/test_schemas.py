"""Pandera contracts reject bad frames with a readable report."""

import numpy as np
import pandas as pd
import pytest

from bh_pricing.core.recency import RecencyPolicy, assemble_training_data
from bh_pricing.core.schemas import (
    CleanListings,
    DataContractError,
    ListingFeatures,
    TrainingListings,
    validate,
)


def clean_frame(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "neighborhood": ["Centro", "Lourdes", "Serra"],
            "square_foot": [70.0, 120.0, 90.0],
            "rooms": [2.0, 3.0, 2.0],
            "garage_places": [1.0, 2.0, 0.0],
            "adm_fees": [300.0, 0.0, 450.0],
            "latitude": [-19.92, np.nan, -19.94],
            "longitude": [-43.94, np.nan, -43.92],
            "price": [450000.0, 1200000.0, 700000.0],
            "address": ["Rua A, 1", None, "Rua C, 3"],
            "city": ["Belo Horizonte"] * 3,
        }
    )
    return frame.assign(**overrides)


def test_a_valid_frame_passes_and_is_coerced():
    frame = clean_frame(rooms=[2, 3, 2])
    validated = validate(frame, CleanListings)
    assert validated["rooms"].dtype == "float64", "integer rooms are coerced to float"


def test_violations_name_column_check_count_and_examples():
    frame = clean_frame(price=[-1.0, -5.0, 700000.0], square_foot=[70.0, 0.0, 90.0])
    with pytest.raises(DataContractError) as error:
        validate(frame, CleanListings)
    message = str(error.value)
    assert "CleanListings contract violated" in message
    assert (
        "column 'price' failed greater_than(0): 2 case(s) at rows [0, 1]; e.g. -1.0, -5.0"
        in message
    )
    assert "column 'square_foot' failed greater_than(0): 1 case(s)" in message


def test_missing_and_extra_columns_are_reported():
    frame = clean_frame().drop(columns=["price"]).assign(colour="red")
    with pytest.raises(DataContractError, match="price") as error:
        validate(frame, CleanListings)
    assert "colour" in str(error.value), "an unexpected column is named too"


def test_nulls_where_not_allowed_are_reported():
    frame = clean_frame(rooms=[2.0, None, 2.0])
    with pytest.raises(DataContractError, match="column 'rooms' failed not_nullable"):
        validate(frame, CleanListings)


def test_feature_contract_ignores_extra_columns_and_allows_missing_coordinates():
    frame = clean_frame().drop(columns=["address", "city"])
    validated = validate(frame, ListingFeatures)
    assert "price" not in validated.columns, "the target is filtered out of the features"
    assert validated["latitude"].isna().sum() == 1


def categorical_text(frame: pd.DataFrame) -> pd.DataFrame:
    text = ["neighborhood", "address", "city"]
    return frame.astype(dict.fromkeys(text, "category"))


def test_without_coercion_categorical_text_passes_unchanged():
    frame = categorical_text(clean_frame())
    validated = validate(frame, CleanListings, coerce=False)
    assert validated["address"].dtype == "category", "nothing is converted without coercion"
    assert validated["address"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("overrides", "column", "check"),
    [
        ({"neighborhood": ["Centro", "", "Serra"]}, "neighborhood", "str_length"),
        ({"neighborhood": ["Centro", None, "Serra"]}, "neighborhood", "not_nullable"),
        ({"city": ["Belo Horizonte", 3, "Belo Horizonte"]}, "city", "dtype('str')"),
        ({"address": [1.5, None, 2.5]}, "address", "dtype('str')"),
    ],
)
def test_without_coercion_every_row_of_categorical_text_is_checked(overrides, column, check):
    frame = categorical_text(clean_frame(**overrides))
    with pytest.raises(DataContractError) as error:
        validate(frame, CleanListings, coerce=False)
    message = str(error.value)
    assert f"column '{column}' failed {check}" in message, message


def test_without_coercion_numbers_must_already_be_float():
    frame = categorical_text(clean_frame(rooms=[2, 3, 2]))
    with pytest.raises(DataContractError, match=r"column 'rooms' failed dtype\('float64'\)"):
        validate(frame, CleanListings, coerce=False)
    assert validate(clean_frame(rooms=[2, 3, 2]), CleanListings)["rooms"].dtype == "float64", (
        "the schema itself still coerces"
    )


def test_listing_ids_are_optional_nullable_text_in_clean_and_training_rows():
    # given clean listings without ids and a batch with them, some missing
    base = validate(clean_frame(), CleanListings)
    batch = validate(clean_frame(listing_id=["A", None, "C"]), CleanListings)
    # when both become training data
    data = assemble_training_data(base, base, {"b1.csv": batch}, RecencyPolicy())
    # then the rows validate, the original ones without an id
    train = validate(pd.concat([data.train, data.test], ignore_index=True), TrainingListings)
    by_batch = train.groupby("batch")["listing_id"].apply(lambda ids: int(ids.notna().sum()))
    assert by_batch.to_dict() == {"b1.csv": 2, "clean_listings": 0}


def test_a_listing_id_that_is_not_text_is_coerced():
    validated = validate(clean_frame(listing_id=[1, 2, 3]), CleanListings)
    assert validated["listing_id"].tolist() == ["1", "2", "3"]
