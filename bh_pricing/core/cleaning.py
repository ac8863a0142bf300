"""Turn raw Kaggle-format listings into clean listings plus a quarantine of rejected rows.

How a value becomes a feature (numbers, ranges, missing-value words, plausibility bounds,
canonical neighborhoods) is decided by the listing contract, ``bh_pricing.contract``, which the
endpoint uses too. Cleaning applies it column by column to the distinct values of each column
(pyarrow-backed text), so 1 M rows cost about as much as their distinct values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from bh_pricing.constants import CLEAN_COLUMNS, RAW_COLUMNS
from bh_pricing.contract import (
    NUMERIC_COLUMNS,
    NUMERIC_RAW_TO_CLEAN,
    Bounds,
    NumericColumn,
    canonical_neighborhood,
    clear_coordinates,
    display_names,
    is_missing_word,
    parse_column,
)
from bh_pricing.core.schemas import CleanListings, validate

# Optional raw column written by the CSV reader: why a row has the wrong number of fields.
STRUCTURE_PROBLEM = "structure_problem"
NEIGHBORHOOD_NAME = "neighborhood_name"
TEXT = pd.ArrowDtype(pa.string())

__all__ = [
    "NEIGHBORHOOD_NAME",
    "NUMERIC_RAW_TO_CLEAN",
    "STRUCTURE_PROBLEM",
    "Bounds",
    "CleaningResult",
    "check_raw_columns",
    "clean_listings",
    "reason_counts",
]


@dataclass
class CleaningResult:
    """Outcome of cleaning: every raw row is in exactly one of ``clean`` or ``quarantined``.

    ``coordinates_cleared``: clean rows whose coordinates were set to missing (outside the
    bounds, or one of the pair missing); ``fees_cleared``: clean rows whose fee was outside its
    bounds and now means "no fee"; ``reasons``: quarantined rows per reason kind.
    """

    clean: pd.DataFrame
    quarantined: pd.DataFrame
    coordinates_cleared: int = 0
    fees_cleared: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def check_raw_columns(raw: pd.DataFrame, source: str) -> None:
    """Fail with the missing column names when ``raw`` is not in the Kaggle format."""
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(
            f"{source}: missing column(s) {missing}; expected the Kaggle format {list(RAW_COLUMNS)}"
        )


class _Column:
    """One raw column as its distinct stripped values and, per row, the index of its value."""

    def __init__(self, values: pd.Series) -> None:
        text = values.astype(TEXT).fillna("").str.strip()
        codes, uniques = pd.factorize(text)
        self.codes = codes
        self.uniques = np.asarray(uniques, dtype=object)


class _Reasons:
    """The first reason found for each row wins."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, None, dtype=object)
        self.found = np.zeros(n, dtype=bool)

    def add(self, mask: np.ndarray, reasons: np.ndarray | str) -> None:
        new = mask & ~self.found
        self.text[new] = reasons[new] if isinstance(reasons, np.ndarray) else reasons
        self.found |= new


def clean_listings(raw: pd.DataFrame, bounds: Bounds | None = None) -> CleaningResult:
    """Clean raw listings; rejected rows go to the quarantine with a reason.

    Reasons, first found wins: a malformed CSV row (``STRUCTURE_PROBLEM``), a duplicate of an
    earlier raw row (after stripping, neighborhoods compared by canonical key), then per column
    a missing, unparseable or out-of-bounds value, a missing neighborhood. Fees out of bounds
    and coordinates off the map are cleared, not rejected. Raises ``ValueError`` naming missing
    raw columns and ``DataContractError`` if the result breaks ``CleanListings``.
    """
    bounds = bounds or Bounds()
    check_raw_columns(raw, "raw listings")
    raw = raw.reset_index(drop=True)
    n = len(raw)
    reasons = _Reasons(n)
    if STRUCTURE_PROBLEM in raw.columns:
        problem = raw[STRUCTURE_PROBLEM].astype(TEXT)
        malformed = problem.notna().to_numpy()
        reasons.add(malformed, problem.fillna("").to_numpy(dtype=object))
    else:
        malformed = np.zeros(n, dtype=bool)

    columns = {name: _Column(raw[name]) for name in RAW_COLUMNS}
    hood = columns["neighborhood"]
    hood_keys = canonical_neighborhood(hood.uniques)
    _reject_duplicates(columns, hood_keys, malformed, reasons)

    clean = pd.DataFrame(index=raw.index)
    cleared: dict[str, np.ndarray] = {}
    out_of_bounds: list[np.ndarray] = []
    for column in NUMERIC_COLUMNS:
        source = columns[column.raw_name]
        parsed = parse_column(column.name, source.uniques, bounds)
        clean[column.name] = parsed.values[source.codes]
        cleared[column.name] = parsed.cleared[source.codes]
        labels = np.array([_reason(column, p) for p in parsed.problem], dtype=object)[source.codes]
        outside = np.array([str(p).startswith("out of range") for p in parsed.problem])
        outside = outside[source.codes]
        reasons.add((labels != None) & ~outside, labels)  # noqa: E711 (element-wise)
        out_of_bounds.append(np.where(outside, labels, None))
    lat, lon, lone = clear_coordinates(clean["latitude"].to_numpy(), clean["longitude"].to_numpy())
    clean["latitude"], clean["longitude"] = lat, lon

    keys = hood_keys[hood.codes]
    reasons.add(keys == "", "neighborhood: missing (blank)")
    for labels in out_of_bounds:
        reasons.add(labels != None, labels)  # noqa: E711 (element-wise)
    clean["neighborhood"] = keys
    names = display_names(
        hood.uniques, hood_keys, np.bincount(hood.codes, minlength=len(hood_keys))
    )
    clean[NEIGHBORHOOD_NAME] = pd.Series(keys).map(names).to_numpy(dtype=object)
    for name in ("address", "city"):
        column = columns[name]
        values = np.array([None if is_missing_word(v) else v for v in column.uniques], dtype=object)
        clean[name] = values[column.codes]

    rejected = reasons.found
    kept = ~rejected
    quarantined = raw.loc[rejected, list(RAW_COLUMNS)].astype("string")
    quarantined.insert(0, "raw_row", np.flatnonzero(rejected))
    quarantined["reason"] = reasons.text[rejected]
    coordinates = cleared["latitude"] | cleared["longitude"] | lone
    output = clean.loc[kept, [*CLEAN_COLUMNS, NEIGHBORHOOD_NAME]].reset_index(drop=True)
    return CleaningResult(
        clean=validate(output, CleanListings),
        quarantined=quarantined.reset_index(drop=True),
        coordinates_cleared=int((coordinates & kept).sum()),
        fees_cleared=int((cleared["adm_fees"] & kept).sum()),
        reasons=reason_counts(pd.Series(reasons.text[rejected], dtype=object)),
    )


def _reason(column: NumericColumn, problem: str | None) -> str | None:
    """``square-foot: unparseable value 'x'``; bounds name the clean column (``rooms: out of
    range [1, 6]: 9``), as the configuration does."""
    if problem is None:
        return None
    name = column.name if problem.startswith("out of range") else column.raw_name
    return f"{name}: {problem}"


def _reject_duplicates(
    columns: dict[str, _Column], hood_keys: np.ndarray, malformed: np.ndarray, reasons: _Reasons
) -> None:
    """Quarantine exact duplicates (stripped text, canonical neighborhood) of an earlier row."""
    n = len(malformed)
    ids = np.where(malformed, np.arange(1, n + 1), 0)
    for name, column in columns.items():
        codes = column.codes
        if name == "neighborhood":
            codes = pd.factorize(hood_keys)[0][codes] if len(hood_keys) else codes
        ids = pd.factorize(ids.astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes)[0]
    _, first_of_id = np.unique(ids, return_index=True)
    first = first_of_id[ids]
    duplicated = first != np.arange(n)
    text = np.full(n, None, dtype=object)
    text[duplicated] = [f"duplicate of raw row {i}" for i in first[duplicated]]
    reasons.add(duplicated, text)


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    """Count reasons by kind (the text before the detail), e.g. ``rooms: missing``."""
    kinds = (
        reasons.astype(str)
        .str.replace(
            r"(out of range \[[^\]]*\]|missing|unparseable value|duplicate).*$", r"\1", regex=True
        )
        .str.replace(r"^(line \d+|a row): .*$", "wrong number of fields", regex=True)
    )
    return {str(k): int(v) for k, v in kinds.value_counts().items()}
