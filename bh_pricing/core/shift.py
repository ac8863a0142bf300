"""Synthetic market shifts: clean listings with prices raised by a known factor.

A shifted batch is labelled with its true per-row factors, so drift detection can be checked
against the truth, and it can be written back in the raw Kaggle format to the landing location,
where it is picked up like any other delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bh_pricing.constants import RAW_COLUMNS, TARGET_COLUMN
from bh_pricing.core.cleaning import NEIGHBORHOOD_NAME, NUMERIC_RAW_TO_CLEAN
from bh_pricing.io import storage


@dataclass(frozen=True)
class ShiftedListings:
    """Listings whose prices were multiplied by ``factors`` (same index as ``frame``)."""

    frame: pd.DataFrame
    factors: pd.Series
    low: float
    high: float
    seed: int

    @property
    def true_shift(self) -> float:
        """Mean relative price change actually applied (0.15 = +15 %)."""
        return float(self.factors.mean() - 1)

    def summary(self) -> dict[str, Any]:
        """Plain values describing the shift, for metadata and logs."""
        return {
            "rows": len(self.frame),
            "low": self.low,
            "high": self.high,
            "seed": self.seed,
            "true_shift": self.true_shift,
            "min_factor": float(self.factors.min()),
            "max_factor": float(self.factors.max()),
        }


def shift_prices(
    clean: pd.DataFrame,
    low: float = 0.10,
    high: float = 0.20,
    seed: int = 0,
    sample_rows: int | None = None,
    replace: bool = False,
) -> ShiftedListings:
    """Multiply each price by a factor drawn uniformly from ``[1 + low, 1 + high]``.

    With ``sample_rows`` the listings are first resampled (with replacement only when
    ``replace``). Rows keep their index in ``clean``; the input is not modified.
    """
    if TARGET_COLUMN not in clean.columns:
        raise ValueError(f"listings have no {TARGET_COLUMN!r} column; got {list(clean.columns)}")
    if clean.empty:
        raise ValueError("cannot shift prices of an empty frame of listings")
    if not -1 < low <= high:
        raise ValueError(f"need -1 < low <= high, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    frame = clean.copy()
    if sample_rows is not None:
        if sample_rows < 1:
            raise ValueError(f"sample_rows must be positive, got {sample_rows}")
        if sample_rows > len(clean) and not replace:
            raise ValueError(
                f"sample_rows={sample_rows} exceeds the {len(clean)} listings; pass replace=True"
            )
        frame = frame.iloc[rng.choice(len(clean), size=sample_rows, replace=replace)]
    factors = pd.Series(
        rng.uniform(1 + low, 1 + high, len(frame)), index=frame.index, name="factor"
    )
    frame[TARGET_COLUMN] = frame[TARGET_COLUMN].to_numpy(dtype=float) * factors.to_numpy()
    return ShiftedListings(frame=frame, factors=factors, low=low, high=high, seed=seed)


def _as_text(values: pd.Series) -> pd.Series:
    """Numbers written without exponent (the raw format has none); missing as blank."""
    return values.map(lambda v: "" if pd.isna(v) else np.format_float_positional(v, trim="-"))


def to_raw_format(clean: pd.DataFrame) -> pd.DataFrame:
    """Clean listings back in the raw Kaggle format: the raw column names, every value as text.

    Cleaning the result gives the same listings back (exact duplicates aside, which it drops).
    """
    missing = [c for c in (*NUMERIC_RAW_TO_CLEAN.values(), "neighborhood") if c not in clean]
    if missing:
        raise ValueError(f"clean listings are missing column(s) {missing}")
    raw = pd.DataFrame(index=clean.index)
    for raw_name, name in NUMERIC_RAW_TO_CLEAN.items():
        raw[raw_name] = _as_text(clean[name])
    for name in ("address", "neighborhood", "city"):
        text = clean[name] if name in clean else pd.Series(None, index=clean.index)
        if name == "neighborhood" and NEIGHBORHOOD_NAME in clean:
            text = clean[NEIGHBORHOOD_NAME].fillna(text)  # the display spelling, as scraped
        raw[name] = text.astype("string").fillna("").astype(object)
    return raw.loc[:, list(RAW_COLUMNS)].reset_index(drop=True)


def write_batch(clean: pd.DataFrame, uri: str) -> str:
    """Write listings as a raw Kaggle-format CSV at ``uri`` (local path or s3://); return it."""
    if not str(uri).endswith(".csv"):
        raise ValueError(f"a batch must be written as a .csv file, got {uri!r}")
    storage.write_bytes(uri, to_raw_format(clean).to_csv(index=False).encode("utf-8"))
    return uri
