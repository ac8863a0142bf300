"""Per-column rules of the listing contract: missing meanings and plausibility bounds."""

import math

import numpy as np
import pytest

from bh_pricing.contract import DEFAULT_BOUNDS, Bounds, clear_coordinates, parse_column


@pytest.mark.parametrize("name", ["price", "square_foot", "rooms"])
@pytest.mark.parametrize("raw", ["", "--", "NULL", "nan", "N/A", "-"])
def test_missing_price_area_or_rooms_is_a_problem(name, raw):
    parsed = parse_column(name, [raw])
    assert parsed.problem[0].startswith("missing"), f"{name}={raw!r}: {parsed.problem[0]}"


@pytest.mark.parametrize(
    ("name", "expected"), [("garage_places", 0.0), ("adm_fees", 0.0), ("latitude", math.nan)]
)
@pytest.mark.parametrize("raw", ["", "--", "NULL", "nan", "N/A", "-", None])
def test_missing_garage_fee_or_coordinate_has_its_meaning(name, expected, raw):
    parsed = parse_column(name, [raw])
    assert parsed.problem[0] is None, f"{name}={raw!r} should be accepted"
    np.testing.assert_equal(parsed.values[0], expected)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("price", "450.0"),
        ("price", "130000000"),
        ("square_foot", "9.5"),
        ("square_foot", "20000"),
        ("rooms", "0"),
        ("rooms", "7-9"),
        ("garage_places", "7"),
    ],
)
def test_values_outside_bounds_reject_the_listing(name, raw):
    parsed = parse_column(name, [raw])
    assert parsed.problem[0].startswith("out of range"), f"{name}={raw!r}: {parsed.problem[0]}"
    assert not parsed.cleared[0]


@pytest.mark.parametrize("raw", ["1.0", "1.200", "20", "49.99", "5000000000", "380000", "-5"])
def test_implausible_fees_are_cleared_to_no_fee(raw):
    parsed = parse_column("adm_fees", [raw])
    assert parsed.problem[0] is None, f"fee {raw!r} is no reason to reject"
    assert parsed.cleared[0], f"fee {raw!r} should be cleared"
    assert parsed.values[0] == 0.0


@pytest.mark.parametrize("raw", ["0", "50", "470.0", "18115", "20000", "300-400"])
def test_plausible_fees_and_zero_are_kept(raw):
    parsed = parse_column("adm_fees", [raw])
    assert not parsed.cleared[0], f"fee {raw!r} should be kept"


def test_fee_bounds_are_configurable():
    bounds = Bounds(adm_fees=(1.0, 1e6))
    assert parse_column("adm_fees", ["1.0"], bounds).values[0] == 1.0


@pytest.mark.parametrize("raw", ["-18.86", "-23.5", "0"])
def test_coordinates_off_the_map_are_cleared(raw):
    parsed = parse_column("latitude", [raw])
    assert parsed.cleared[0]
    assert math.isnan(parsed.values[0])


def test_coordinates_go_in_pairs():
    lat = np.array([-19.9, np.nan, np.nan, -19.8])
    lon = np.array([np.nan, -43.9, np.nan, -43.9])
    lat2, lon2, lone = clear_coordinates(lat, lon)
    assert lone.tolist() == [True, True, False, False]
    assert np.isnan(lat2[:3]).all()
    assert np.isnan(lon2[:3]).all()
    assert lat2[3] == -19.8


def test_inverted_bounds_are_an_error():
    with pytest.raises(ValueError, match="bounds of rooms: lower 6 above upper 1"):
        Bounds(rooms=(6.0, 1.0))


def test_default_fee_bounds_are_documented_values():
    assert DEFAULT_BOUNDS.adm_fees == (50.0, 20_000.0)


def test_unknown_column_is_a_key_error():
    with pytest.raises(KeyError):
        parse_column("address", ["x"])
