"""Turn raw Kaggle-format listings into clean listings plus a quarantine of rejected rows.

How a value becomes a feature (numbers, ranges, missing-value words, plausibility bounds,
canonical neighborhoods) is decided by the listing contract, ``bh_pricing.contract``, which the
endpoint uses too. Cleaning applies it column by column to the distinct values of each column
(pyarrow-backed text), so 1 M rows cost about as much as their distinct values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from bh_pricing.constants import CLEAN_COLUMNS, RAW_COLUMNS
from bh_pricing.contract import (
    MISSING_WORDS,
    NUMERIC_COLUMNS,
    NUMERIC_RAW_TO_CLEAN,
    Bounds,
    NumericColumn,
    canonical_neighborhood,
    clear_coordinates,
    display_names,
    parse_column,
)
from bh_pricing.core.schemas import CleanListings, validate

# Optional raw column written by the CSV reader: why a row has the wrong number of fields.
STRUCTURE_PROBLEM = "structure_problem"
NEIGHBORHOOD_NAME = "neighborhood_name"
WRONG_FIELD_COUNT = "wrong number of fields"
# A reason's kind: the text before its detail, e.g. "rooms: missing", "price: out of range [..]".
_KIND = re.compile(r"(out of range \[[^\]]*\]|missing|unparseable value).*$")
TEXT = pd.ArrowDtype(pa.string())

__all__ = [
    "NEIGHBORHOOD_NAME",
    "NUMERIC_RAW_TO_CLEAN",
    "STRUCTURE_PROBLEM",
    "Bounds",
    "CleaningResult",
    "check_raw_columns",
    "clean_listings",
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
    """The first reason found for each row wins; each reason also has its kind, for counts."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, None, dtype=object)
        self.kind = np.full(n, None, dtype=object)
        self.found = np.zeros(n, dtype=bool)

    def add(
        self,
        mask: np.ndarray,
        text: np.ndarray | str,
        kind: np.ndarray | str,
        codes: np.ndarray | None = None,
    ) -> None:
        """Give rows in ``mask`` without a reason yet ``text`` and ``kind``: constants, per-row
        arrays, or per-distinct-value arrays indexed by ``codes``."""
        new = mask & ~self.found
        where = new if codes is None else codes[new]
        self.text[new] = text[where] if isinstance(text, np.ndarray) else text
        self.kind[new] = kind[where] if isinstance(kind, np.ndarray) else kind
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
        reasons.add(malformed, problem.fillna("").to_numpy(dtype=object), WRONG_FIELD_COUNT)
    else:
        malformed = np.zeros(n, dtype=bool)

    columns = {name: _Column(raw[name]) for name in RAW_COLUMNS}
    hood = columns["neighborhood"]
    hood_keys = canonical_neighborhood(hood.uniques)
    _reject_duplicates(columns, hood_keys, malformed, reasons)

    clean = pd.DataFrame(index=raw.index)
    cleared: dict[str, np.ndarray] = {}
    out_of_bounds: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for column in NUMERIC_COLUMNS:
        source = columns[column.raw_name]
        parsed = parse_column(column.name, source.uniques, bounds)
        clean[column.name] = parsed.values[source.codes]
        cleared[column.name] = parsed.cleared[source.codes]
        text, kind, outside = _problems(column, parsed.problem)
        has_problem = (text != None)[source.codes]  # noqa: E711 (element-wise)
        is_outside = outside[source.codes]
        reasons.add(has_problem & ~is_outside, text, kind, source.codes)
        out_of_bounds.append((is_outside, text, kind, source.codes))
    lat, lon, lone = clear_coordinates(clean["latitude"].to_numpy(), clean["longitude"].to_numpy())
    clean["latitude"], clean["longitude"] = lat, lon

    keys = hood_keys[hood.codes]
    reasons.add(keys == "", "neighborhood: missing (blank)", "neighborhood: missing")
    for is_outside, text, kind, codes in out_of_bounds:
        reasons.add(is_outside, text, kind, codes)
    clean["neighborhood"] = keys
    rows_per_name = np.bincount(hood.codes, minlength=len(hood_keys))
    names = display_names(hood.uniques, hood_keys, rows_per_name)
    display = np.array([names.get(key) for key in hood_keys], dtype=object)
    clean[NEIGHBORHOOD_NAME] = display[hood.codes]
    for name in ("address", "city"):
        column = columns.pop(name)
        missing = np.array([v.casefold() in MISSING_WORDS for v in column.uniques], dtype=bool)
        clean[name] = np.where(missing, None, column.uniques)[column.codes]

    rejected = reasons.found
    kept = ~rejected
    quarantined = raw.loc[rejected, list(RAW_COLUMNS)].astype("string")
    quarantined.insert(0, "raw_row", np.flatnonzero(rejected))
    quarantined["reason"] = reasons.text[rejected]
    coordinates = cleared["latitude"] | cleared["longitude"] | lone
    output = clean.loc[kept, [*CLEAN_COLUMNS, NEIGHBORHOOD_NAME]].reset_index(drop=True)
    kinds = pd.Series(reasons.kind[rejected], dtype=object).value_counts()
    return CleaningResult(
        clean=validate(output, CleanListings),
        quarantined=quarantined.reset_index(drop=True),
        coordinates_cleared=int((coordinates & kept).sum()),
        fees_cleared=int((cleared["adm_fees"] & kept).sum()),
        reasons={str(kind): int(rows) for kind, rows in kinds.items()},
    )


def _problems(
    column: NumericColumn, problems: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: the reason text (``square-foot: unparseable value 'x'``; bounds
    name the clean column, as the configuration does: ``rooms: out of range [1, 6]: 9``), its
    kind (``rooms: out of range [1, 6]``) and whether it is a bounds problem."""
    text = np.full(len(problems), None, dtype=object)
    kind = np.full(len(problems), None, dtype=object)
    outside = np.zeros(len(problems), dtype=bool)
    for i in np.flatnonzero(problems != None):  # noqa: E711 (element-wise)
        problem = problems[i]
        outside[i] = problem.startswith("out of range")
        text[i] = f"{column.name if outside[i] else column.raw_name}: {problem}"
        kind[i] = _KIND.sub(r"\1", text[i])
    return text, kind, outside


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
    reasons.add(duplicated, text, "duplicate")
