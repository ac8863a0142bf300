"""The listing contract: how each raw column becomes a feature, and what is plausible.

One place decides, for cleaning (1 M rows) and for the endpoint (one request) alike:

- numbers, numeric strings and ``a-b`` ranges (midpoint) are read by ``contract.values``;
- a missing value (blank, ``--``, ``nan``, ``NULL``, ``N/A``, ``-``, ...) means what the listing
  sites mean by it: no garage, no condominium fee, unknown coordinates; a missing price, area
  or room count makes the listing unusable;
- plausibility bounds (``Bounds``, inclusive, configurable): a price, area, room or garage count
  outside them rejects the listing (quarantine in cleaning, 422 at the endpoint); a fee outside
  them is a placeholder or a typo and is cleared to "no fee"; coordinates outside the metro area
  are cleared, both of them.

Standard library and numpy only (the endpoint ships no pandas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from bh_pricing.contract.values import parse_numbers


@dataclass(frozen=True)
class Bounds:
    """Plausible ranges (inclusive) per numeric feature: prices in BRL, area in m², coordinates
    in degrees (WGS 84).

    Defaults: price, area, rooms and garage are the earlier project's bounds; the coordinate
    box is the Belo Horizonte metro area. Monthly condominium fees: 50-20,000 BRL. On the real
    Kaggle file 317 fees lie between 0 and 20 BRL (placeholders such as ``1.0``, thousands
    separators read as decimals such as ``1.200``), only 4 between 20 and 50, and above 18,115
    BRL come only values of 380,000 BRL and more (prices typed in the fee column).
    """

    price: tuple[float, float] = (1e5, 4e6)
    square_foot: tuple[float, float] = (10.0, 1000.0)
    rooms: tuple[float, float] = (1.0, 6.0)
    garage_places: tuple[float, float] = (0.0, 6.0)
    adm_fees: tuple[float, float] = (50.0, 20_000.0)
    latitude: tuple[float, float] = (-20.30, -19.50)
    longitude: tuple[float, float] = (-44.35, -43.60)

    def __post_init__(self) -> None:
        for item in fields(self):
            low, high = getattr(self, item.name)
            if not low <= high:
                raise ValueError(f"bounds of {item.name}: lower {low:g} above upper {high:g}")


@dataclass(frozen=True)
class NumericColumn:
    """A numeric feature: its clean and raw names, what a missing value means (``None``: the
    listing is unusable) and what a value outside its bounds does."""

    name: str
    raw_name: str
    if_missing: float | None
    if_outside: Literal["reject", "clear"]


NUMERIC_COLUMNS: tuple[NumericColumn, ...] = (
    NumericColumn("price", "price", None, "reject"),
    NumericColumn("square_foot", "square-foot", None, "reject"),
    NumericColumn("rooms", "rooms", None, "reject"),
    # listing sites print "--" for "no garage" and leave the fee blank when there is none
    NumericColumn("garage_places", "garage-places", 0.0, "reject"),
    NumericColumn("adm_fees", "adm-fees", 0.0, "clear"),
    NumericColumn("latitude", "latitude", np.nan, "clear"),
    NumericColumn("longitude", "longitude", np.nan, "clear"),
)
COLUMNS_BY_NAME = {c.name: c for c in NUMERIC_COLUMNS}
NUMERIC_RAW_TO_CLEAN = {c.raw_name: c.name for c in NUMERIC_COLUMNS}
COORDINATES = ("latitude", "longitude")
DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class ParsedColumn:
    """One numeric column read under the contract.

    ``values``: float64 features (NaN only where missing means unknown); ``problem``: per row
    ``None`` or why the listing is unusable (``missing (blank)``, ``unparseable value 'x'``,
    ``out of range [10, 1000]: 20000``); ``cleared``: values outside the bounds replaced by the
    column's missing meaning.
    """

    values: np.ndarray
    problem: np.ndarray
    cleared: np.ndarray


def parse_column(
    name: str, raw: Sequence[Any] | np.ndarray, bounds: Bounds = DEFAULT_BOUNDS
) -> ParsedColumn:
    """Read one numeric column (clean ``name``, e.g. ``adm_fees``) under the contract.

    Raises ``KeyError`` for a name that is not a numeric feature.
    """
    column = COLUMNS_BY_NAME[name]
    parsed = parse_numbers(raw)
    values = parsed.values
    problem = np.full(len(values), None, dtype=object)
    if parsed.invalid.any():
        originals = np.asarray(raw, dtype=object)
        problem[parsed.invalid] = [f"unparseable value {v!r}" for v in originals[parsed.invalid]]
    missing = parsed.missing
    if column.if_missing is None:
        if missing.any():
            originals = np.asarray(raw, dtype=object)
            problem[missing] = [_missing_problem(v) for v in originals[missing]]
    else:
        values = np.where(missing, column.if_missing, values)
    low, high = getattr(bounds, name)
    outside = (parsed.state == 0) & ((values < low) | (values > high))
    if column.if_missing is not None:
        outside &= values != column.if_missing
    cleared = np.zeros(len(values), dtype=bool)
    if column.if_outside == "clear":
        values = np.where(outside, column.if_missing, values)
        cleared = outside
    elif outside.any():
        problem[outside] = [f"out of range [{low:g}, {high:g}]: {v:g}" for v in values[outside]]
    return ParsedColumn(values, problem, cleared)


def _missing_problem(value: Any) -> str:
    shown = value.strip() if isinstance(value, str) else value
    return "missing (blank)" if shown in ("", None) else f"missing ({shown})"


def clear_coordinates(
    latitude: np.ndarray, longitude: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates go together: where either is missing, both are. Returns (latitude,
    longitude, mask of rows that had one coordinate and lost it)."""
    lone = np.isnan(latitude) != np.isnan(longitude)
    return np.where(lone, np.nan, latitude), np.where(lone, np.nan, longitude), lone
