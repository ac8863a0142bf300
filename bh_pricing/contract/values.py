"""How one raw text value becomes a number: numbers, ``a-b`` ranges, missing-value words.

Needs only the standard library and numpy, so the Lambda endpoint and the cleaning of a million
rows run the same code. Every function takes a 1-D array (or sequence) of raw values (``str``,
JSON numbers, ``None``) and returns arrays of the same length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Text that means "no value", compared after stripping and case-folding: a blank, what listing
# sites print for "none" (``--``, ``-``) and what spreadsheets and databases write for missing.
MISSING_WORDS = frozenset({"", "-", "--", "nan", "null", "n/a", "na", "none"})
# ``a-b`` with two non-negative decimals (``45-65``, ``2 - 3``): resolved to the midpoint.
_RANGE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*-\s*(\d+(?:\.\d*)?|\.\d+)$")

OK, MISSING, INVALID = 0, 1, 2


@dataclass(frozen=True)
class ParsedNumbers:
    """Numbers parsed from raw values, one entry per input value.

    ``values`` is float64 (NaN where ``state`` is not ``OK``); ``state`` is ``OK``, ``MISSING``
    (a missing-value word or ``None``) or ``INVALID`` (anything else that is not a number).
    """

    values: np.ndarray
    state: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of missing values."""
        return self.state == MISSING

    @property
    def invalid(self) -> np.ndarray:
        """Boolean mask of values that are neither numbers, ranges nor missing."""
        return self.state == INVALID


def is_missing_word(value: object) -> bool:
    """True for ``None``, NaN and the missing-value words (``MISSING_WORDS``, any case/padding)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().casefold() in MISSING_WORDS


def parse_number(value: Any) -> tuple[float, int]:
    """One raw value as ``(number, state)``.

    Accepted: finite JSON numbers (not booleans); text that Python's ``float`` reads as a finite
    number (padding allowed, e.g. ``" 102.0"``, ``"1e3"``); ``a-b`` ranges of non-negative
    decimals, resolved to their midpoint. ``None``, NaN and the missing-value words are
    ``MISSING``; everything else (``"abc"``, ``"inf"``, ``True``, ``"5-"``) is ``INVALID``.
    """
    if is_missing_word(value):
        return math.nan, MISSING
    if isinstance(value, bool):
        return math.nan, INVALID
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float64, e.g. 10**400 in JSON
            return math.nan, INVALID
        return (number, OK) if math.isfinite(number) else (math.nan, INVALID)
    if not isinstance(value, str):
        return math.nan, INVALID
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        match = _RANGE.match(text)
        if match is None:
            return math.nan, INVALID
        return (float(match[1]) + float(match[2])) / 2, OK
    return (number, OK) if math.isfinite(number) else (math.nan, INVALID)


def parse_numbers(raw: Sequence[Any] | np.ndarray) -> ParsedNumbers:
    """Vectorised ``parse_number`` over a 1-D array of raw values (same rules, same results).

    Columns of plain numbers take a single numpy conversion; other columns parse each distinct
    value once, so cost grows with the number of distinct values, not of rows.
    """
    values = _as_objects(raw)
    fast = _fast_path(values)
    if fast is not None:
        return fast
    memo: dict[Any, int] = {}
    codes = np.fromiter(
        (memo.setdefault(_key(v), len(memo)) for v in values), dtype=np.intp, count=len(values)
    )
    parsed = [parse_number(v) for v in memo]
    numbers = np.fromiter((p[0] for p in parsed), dtype=np.float64, count=len(parsed))
    states = np.fromiter((p[1] for p in parsed), dtype=np.int8, count=len(parsed))
    return ParsedNumbers(numbers[codes], states[codes])


def _as_objects(raw: Sequence[Any] | np.ndarray) -> np.ndarray:
    values = np.asarray(raw, dtype=object)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D array of raw values, got shape {values.shape}")
    return values


def _key(value: Any) -> Any:
    # NaN never equals itself; one key for every NaN keeps the memo small. Booleans would merge
    # with 0/1 as dict keys, so they keep their type in the key. Unhashable values (JSON objects
    # and arrays) are never numbers: one key per type, which ``parse_number`` reads as INVALID.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return ("bool", value)
    return value if isinstance(value, Hashable) else ("unhashable", type(value).__name__)


def _fast_path(values: np.ndarray) -> ParsedNumbers | None:
    """All values plain numeric text or numbers, blanks aside: one numpy conversion."""
    if not all(type(v) is str for v in values):
        return None
    present = values != ""
    try:
        numbers = values[present].astype(np.float64)
    except (ValueError, TypeError):
        return None
    if not np.isfinite(numbers).all():
        return None
    out = np.full(len(values), np.nan)
    out[present] = numbers
    state = np.where(present, OK, MISSING).astype(np.int8)
    return ParsedNumbers(out, state)
