"""Evaluation helpers: which held-out flats were never seen in training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bh_pricing.core.evaluation import unseen_in_training


def flats(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["latitude", "longitude", "square_foot"]).assign(price=1.0)


TRAIN = flats([(-19.93, -43.94, 100.0), (-19.95, -43.96, 60.0), (-19.95, -43.96, 75.0)])


@pytest.mark.parametrize(
    ("row", "unseen", "why"),
    [
        ((-19.93, -43.94, 100.0), False, "same coordinates and area: a relisting"),
        ((-19.93 + 1e-9, -43.94, 100.0), False, "float noise below 0.1 m is the same place"),
        ((-19.95, -43.96, 75.0), False, "a second flat at one address matches by its own area"),
        ((-19.93, -43.94, 101.0), True, "same address, another area: another flat"),
        ((-19.931, -43.94, 100.0), True, "same area about 110 m away: another flat"),
        ((-19.95, -43.93, 60.0), True, "latitude of one flat, longitude of none"),
        ((np.nan, -43.94, 100.0), True, "no coordinates: nothing to match"),
    ],
)
def test_unseen_flats_by_coordinates_and_area(row, unseen: bool, why: str) -> None:
    # when one test flat is compared with the training flats
    result = unseen_in_training(TRAIN, flats([row]))
    # then it is unseen only when no training row shares its coordinates and area
    assert result.tolist() == [unseen], why


def test_unseen_keeps_test_order_and_length() -> None:
    test = flats([(-19.0, -43.0, 50.0), (-19.93, -43.94, 100.0), (-19.0, -43.0, 50.0)])
    result = unseen_in_training(TRAIN, test)
    assert result.dtype == bool, "a boolean mask"
    assert result.tolist() == [True, False, True], "one entry per test row, in order"


def test_a_training_row_without_coordinates_matches_nothing() -> None:
    train = flats([(np.nan, np.nan, 100.0)])
    assert unseen_in_training(train, flats([(np.nan, np.nan, 100.0)])).tolist() == [True]


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"test frame is missing column\(s\) \['square_foot'\]"):
        unseen_in_training(TRAIN, TRAIN.drop(columns=["square_foot"]))
