"""The contract's value parsing: numbers, ranges, missing-value words, scalar = vectorised."""

import math

import numpy as np
import pytest

from bh_pricing.contract import MISSING_WORDS, parse_number, parse_numbers
from bh_pricing.contract.values import INVALID, MISSING, OK

MISSING_VARIANTS = [
    "",
    "   ",
    "--",
    "-",
    " - ",
    "nan",
    "NaN",
    "NAN",
    "null",
    "NULL",
    " Null ",
    "N/A",
    "n/a",
    "NA",
    "None",
    None,
    math.nan,
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("102", 102.0),
        (" 102.0 ", 102.0),
        ("-19.9364152", -19.9364152),
        ("45-65", 55.0),
        ("2-3", 2.5),
        ("2 - 3", 2.5),
        ("1.5-2.5", 2.0),
        ("1e3", 1000.0),
        (90, 90.0),
        (750.5, 750.5),
    ],
)
def test_numbers_and_ranges_are_read(raw, expected):
    assert parse_number(raw) == (expected, OK), f"{raw!r} should read as {expected}"


@pytest.mark.parametrize("raw", MISSING_VARIANTS)
def test_missing_words_mean_missing(raw):
    value, state = parse_number(raw)
    assert state == MISSING, f"{raw!r} should be missing"
    assert math.isnan(value)


@pytest.mark.parametrize(
    "raw", ["abc", "inf", "-inf", "Infinity", "5-", "-5-6", "1,200", "12 m2", True, False, [], {}]
)
def test_other_values_are_invalid(raw):
    assert parse_number(raw)[1] == INVALID, f"{raw!r} should be invalid"


def test_missing_words_are_compared_case_insensitively():
    assert {w.upper() for w in MISSING_WORDS} <= {
        w.upper() for w in MISSING_VARIANTS if isinstance(w, str)
    } | {""}, "every missing word is exercised above"


@pytest.mark.parametrize(
    "column",
    [
        ["1", "2", "3"],
        ["1", "", "3"],
        ["1", "45-65", "--", "NULL", "x", "inf", "1e2", " 7 "],
        [None, 1.5, "2", True, math.nan, "N/A"],
        ["", "", ""],
    ],
)
def test_vectorised_parsing_equals_the_scalar_rule(column):
    parsed = parse_numbers(column)
    expected = [parse_number(v) for v in column]
    np.testing.assert_array_equal(parsed.state, [s for _, s in expected])
    np.testing.assert_array_equal(parsed.values, [v for v, _ in expected])


def test_parsing_rejects_two_dimensional_input():
    with pytest.raises(ValueError, match="1-D"):
        parse_numbers(np.array([["1"]], dtype=object))


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], [], {}, 10**400, -(10**400)])
def test_values_that_are_no_numbers_are_invalid_not_errors(value: object) -> None:
    parsed = parse_numbers(["12", value, None])
    assert parsed.state.tolist() == [OK, INVALID, MISSING]
    number, state = parse_number(value)
    assert math.isnan(number)
    assert state == INVALID
