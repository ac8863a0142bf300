"""Turn raw Kaggle-format listings into clean listings plus a quarantine of rejected rows.

How a value becomes a feature (numbers, ranges, missing-value words, plausibility bounds,
canonical neighborhoods) is decided by the listing contract, ``bh_pricing.contract``, which the
endpoint uses too. Cleaning applies it column by column to the distinct values of each column
(pyarrow-backed text), so 1 M rows cost about as much as their distinct values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bh_pricing.constants import CLEAN_COLUMNS, LISTING_ID, RAW_COLUMNS
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
    """One raw column as its distinct stripped values and, per row, the index of its value.

    pyarrow does the stripping and the encoding (no Python string per row): ``codes`` are int32
    row indices into ``uniques``, an object array of the distinct values.
    """

    def __init__(self, values: pd.Series) -> None:
        text = pa.chunked_array(pa.array(values.astype(TEXT))).combine_chunks()
        encoded = pc.utf8_trim_whitespace(text.fill_null("")).dictionary_encode()
        self.codes: np.ndarray = encoded.indices.to_numpy()
        self.uniques: np.ndarray = encoded.dictionary.to_numpy(zero_copy_only=False)


class _Reasons:
    """The first reason found for each row wins; each reason also has its kind, for counts.

    Rows hold an index into the reasons seen so far, so texts exist once per distinct reason
    and are spread to rows only for the quarantine.
    """

    def __init__(self, n: int) -> None:
        self.index = np.full(n, -1, dtype=np.int64)
        self.texts: list[str] = []
        self.kinds: list[str] = []

    @property
    def found(self) -> np.ndarray:
        """Rows that have a reason."""
        return self.index >= 0

    def add(
        self,
        mask: np.ndarray,
        texts: Sequence[str],
        kinds: Sequence[str] | str,
        which: np.ndarray | None = None,
    ) -> None:
        """Rows in ``mask`` without a reason yet get ``texts[which[row]]`` (``texts[0]`` when
        ``which`` is None) and its kind (``kinds`` alike, or one kind for all)."""
        new = mask & (self.index < 0)
        if not new.any():
            return
        offset = len(self.texts)
        self.texts.extend(texts)
        self.kinds.extend([kinds] * len(texts) if isinstance(kinds, str) else kinds)
        self.index[new] = offset + (0 if which is None else which[new])

    def row_texts(self, rows: np.ndarray) -> np.ndarray:
        """The reason of each of ``rows`` (positions of rows that have one)."""
        return np.asarray(self.texts, dtype=object)[self.index[rows]]

    def counts(self, rows: np.ndarray) -> dict[str, int]:
        """Rows per reason kind among ``rows``, most frequent first (ties: first seen)."""
        kinds = pd.Series(np.asarray(self.kinds, dtype=object)[self.index[rows]], dtype=object)
        return {str(kind): int(count) for kind, count in kinds.value_counts().items()}


def clean_listings(raw: pd.DataFrame, bounds: Bounds | None = None) -> CleaningResult:
    """Clean raw listings; rejected rows go to the quarantine with a reason.

    Reasons, first found wins: a malformed CSV row (``STRUCTURE_PROBLEM``), a duplicate of an
    earlier raw row (after stripping, neighborhoods compared by canonical key), then per column
    a missing, unparseable or out-of-bounds value, a missing neighborhood. Fees out of bounds
    and coordinates off the map are cleared, not rejected. Raises ``ValueError`` naming missing
    raw columns and ``DataContractError`` if the result breaks ``CleanListings``.

    An optional raw ``listing_id`` column is kept, stripped, in the clean and the quarantined
    rows (the missing-value words become null). It never makes a row distinct: duplicates are
    judged on the Kaggle columns only, so the same flat listed again under a new id is still a
    duplicate (training must not see it twice); its quarantined row keeps the id.
    """
    bounds = bounds or Bounds()
    check_raw_columns(raw, "raw listings")
    n = len(raw)
    reasons = _Reasons(n)
    if STRUCTURE_PROBLEM in raw.columns:
        problem = raw[STRUCTURE_PROBLEM].astype(TEXT)
        malformed = problem.notna().to_numpy()
        texts = problem[malformed].to_numpy(dtype=object)
        reasons.add(malformed, texts, WRONG_FIELD_COUNT, np.cumsum(malformed) - 1)
    else:
        malformed = np.zeros(n, dtype=bool)

    columns = {name: _Column(raw[name]) for name in RAW_COLUMNS}
    hood = columns["neighborhood"]
    hood_keys = canonical_neighborhood(hood.uniques)
    _reject_duplicates(columns, hood_keys, malformed, reasons)

    numbers: dict[str, np.ndarray] = {}
    cleared: dict[str, np.ndarray] = {}
    out_of_bounds: list[tuple[np.ndarray, list[str], list[str], np.ndarray]] = []
    for column in NUMERIC_COLUMNS:
        source = columns[column.raw_name]
        parsed = parse_column(column.name, source.uniques, bounds)
        numbers[column.name] = parsed.values
        cleared[column.name] = parsed.cleared[source.codes]
        texts, kinds, outside = _problems(column, parsed.problem)
        which = np.cumsum(parsed.problem != None) - 1  # noqa: E711 (element-wise)
        problem_of_row = which[source.codes]
        has_problem = (parsed.problem != None)[source.codes]  # noqa: E711 (element-wise)
        is_outside = outside[source.codes]
        reasons.add(has_problem & ~is_outside, texts, kinds, problem_of_row)
        out_of_bounds.append((is_outside, texts, kinds, problem_of_row))

    keys = hood_keys[hood.codes]
    reasons.add(keys == "", ["neighborhood: missing (blank)"], "neighborhood: missing")
    for is_outside, texts, kinds, problem_of_row in out_of_bounds:
        reasons.add(is_outside, texts, kinds, problem_of_row)

    rejected = reasons.found
    kept = np.flatnonzero(~rejected)
    dropped = np.flatnonzero(rejected)
    features = {
        column.name: numbers[column.name][columns[column.raw_name].codes[kept]]
        for column in NUMERIC_COLUMNS
    }
    lat, lon, lone = clear_coordinates(features["latitude"], features["longitude"])
    features["latitude"], features["longitude"] = lat, lon
    key_codes, key_values = pd.factorize(hood_keys)
    rows_per_name = np.bincount(hood.codes, minlength=len(hood_keys))
    names = display_names(hood.uniques, hood_keys, rows_per_name)
    text = {
        "neighborhood": (key_codes[hood.codes[kept]], np.asarray(key_values, dtype=object)),
        NEIGHBORHOOD_NAME: (
            key_codes[hood.codes[kept]],
            np.array([names.get(key) for key in key_values], dtype=object),
        ),
    }
    optional = [LISTING_ID] if LISTING_ID in raw.columns else []
    plain = {name: columns[name] for name in ("address", "city")}
    for name, column in (plain | {name: _Column(raw[name]) for name in optional}).items():
        missing = np.array([v.casefold() in MISSING_WORDS for v in column.uniques], dtype=bool)
        text[name] = (column.codes[kept], np.where(missing, None, column.uniques))
    categorical = {name: _categorical(codes, values) for name, (codes, values) in text.items()}
    output_columns = [*CLEAN_COLUMNS, NEIGHBORHOOD_NAME, *optional]
    output = pd.DataFrame({**features, **categorical})[output_columns]
    output = validate(output, CleanListings, coerce=False)
    for name in text:
        output[name] = _objects(output[name])

    quarantined = raw.iloc[dropped][[*RAW_COLUMNS, *optional]].astype("string")
    quarantined.insert(0, "raw_row", dropped)
    quarantined["reason"] = reasons.row_texts(dropped)
    coordinates = (cleared["latitude"] | cleared["longitude"])[kept] | lone
    return CleaningResult(
        clean=output,
        quarantined=quarantined.reset_index(drop=True),
        coordinates_cleared=int(coordinates.sum()),
        fees_cleared=int(cleared["adm_fees"][kept].sum()),
        reasons=reasons.counts(dropped),
    )


def _categorical(codes: np.ndarray, values: np.ndarray) -> pd.Categorical:
    """``values[codes]`` as a categorical (``None`` values become missing), without building a
    Python object per row: the form in which Pandera checks text per distinct value."""
    value_codes, categories = pd.factorize(values)
    return pd.Categorical.from_codes(value_codes[codes], categories)


def _objects(column: pd.Series) -> np.ndarray:
    """A categorical text column as an object array of ``str``, ``None`` where missing."""
    categories = column.cat.categories.to_numpy(dtype=object)
    return np.append(categories, None)[column.cat.codes.to_numpy()]


def _problems(
    column: NumericColumn, problems: np.ndarray
) -> tuple[list[str], list[str], np.ndarray]:
    """For the distinct values with a problem, in order: the reason text (``square-foot:
    unparseable value 'x'``; bounds name the clean column, as the configuration does: ``rooms:
    out of range [1, 6]: 9``) and its kind (``rooms: out of range [1, 6]``); and per distinct
    value whether its problem is a bounds problem."""
    texts: list[str] = []
    kinds: list[str] = []
    outside = np.zeros(len(problems), dtype=bool)
    for i in np.flatnonzero(problems != None):  # noqa: E711 (element-wise)
        problem = problems[i]
        outside[i] = problem.startswith("out of range")
        texts.append(f"{column.name if outside[i] else column.raw_name}: {problem}")
        kinds.append(_KIND.sub(r"\1", texts[-1]))
    return texts, kinds, outside


# Duplicate detection packs the per-column codes of a row into one int64 key, renumbering the
# keys (pd.factorize) only when the next column would overflow it.
_KEY_LIMIT = 2**62


def _reject_duplicates(
    columns: dict[str, _Column], hood_keys: np.ndarray, malformed: np.ndarray, reasons: _Reasons
) -> None:
    """Quarantine exact duplicates (stripped text, canonical neighborhood) of an earlier row.

    Malformed rows are never duplicates: each starts with a key of its own.
    """
    n = len(malformed)
    if n == 0:
        return
    ids = np.where(malformed, np.arange(1, n + 1), 0)
    size = n + 1
    for name, column in columns.items():
        codes = column.codes.astype(np.int64)
        values = len(column.uniques)
        if name == "neighborhood":
            key_codes = pd.factorize(hood_keys)[0]
            codes, values = key_codes[codes], int(key_codes.max(initial=0)) + 1
        if size * values >= _KEY_LIMIT:
            ids = pd.factorize(ids)[0].astype(np.int64)
            size = int(ids.max()) + 1
        ids = ids * values + codes
        size *= max(values, 1)
    ids = pd.factorize(ids)[0]  # numbered in order of first appearance
    first_seen = np.empty(n, dtype=bool)
    first_seen[0] = True
    first_seen[1:] = ids[1:] > np.maximum.accumulate(ids)[:-1]
    duplicated = ~first_seen
    first_row = np.flatnonzero(first_seen)[ids[duplicated]]
    texts = [f"duplicate of raw row {i}" for i in first_row]
    reasons.add(duplicated, texts, "duplicate", np.cumsum(duplicated) - 1)
