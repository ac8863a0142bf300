"""Turn raw Kaggle-format listings into clean listings plus a quarantine of rejected rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bh_pricing.constants import CLEAN_COLUMNS, RAW_COLUMNS
from bh_pricing.core.schemas import CleanListings, validate

_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")
MISSING_MARK = "--"

# raw name -> clean name for the numeric columns
NUMERIC_RAW_TO_CLEAN = {
    "price": "price",
    "square-foot": "square_foot",
    "rooms": "rooms",
    "garage-places": "garage_places",
    "adm-fees": "adm_fees",
    "latitude": "latitude",
    "longitude": "longitude",
}
# What a blank or "--" means per column; None = the row cannot be used.
_MISSING_MEANS: dict[str, float | None] = {
    "price": None,
    "square_foot": None,
    "rooms": None,
    "garage_places": 0.0,  # listing sites print "--" for "no garage"
    "adm_fees": 0.0,  # blank condominium fee = no fee
    "latitude": np.nan,
    "longitude": np.nan,
}


@dataclass(frozen=True)
class Bounds:
    """Accepted ranges (inclusive); rows outside are quarantined. Defaults: earlier project's."""

    price: tuple[float, float] = (1e5, 4e6)
    square_foot: tuple[float, float] = (10.0, 1000.0)
    rooms: tuple[float, float] = (1.0, 6.0)
    garage_places: tuple[float, float] = (0.0, 6.0)


@dataclass(frozen=True)
class GeoBox:
    """Belo Horizonte metro area; coordinates outside are set to missing, not rejected."""

    latitude: tuple[float, float] = (-20.30, -19.50)
    longitude: tuple[float, float] = (-44.35, -43.60)


@dataclass
class CleaningResult:
    """Outcome of cleaning: every raw row is in exactly one of ``clean`` or ``quarantined``."""

    clean: pd.DataFrame
    quarantined: pd.DataFrame
    coordinates_cleared: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def check_raw_columns(raw: pd.DataFrame, source: str) -> None:
    """Fail with the missing column names when ``raw`` is not in the Kaggle format."""
    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(
            f"{source}: missing column(s) {missing}; expected the Kaggle format {list(RAW_COLUMNS)}"
        )


def normalize_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Every raw column as stripped text, blanks as empty strings."""
    text = raw.loc[:, list(RAW_COLUMNS)].astype("string").fillna("")
    return text.apply(lambda s: s.str.strip()).astype(object)


def parse_numeric(text: pd.Series, missing_value: float | None) -> tuple[pd.Series, pd.Series]:
    """Parse numbers, ``a-b`` ranges (midpoint), blanks and ``--``.

    Returns the values and, per row, an error message or ``None``.
    """
    values = pd.Series(np.nan, index=text.index, dtype=float)
    errors = pd.Series(None, index=text.index, dtype=object)
    is_number = text.str.match(_NUMBER)
    values[is_number] = text[is_number].astype(float)
    ranges = text.str.extract(_RANGE).astype(float)
    is_range = ranges[0].notna() & ~is_number
    values[is_range] = (ranges.loc[is_range, 0] + ranges.loc[is_range, 1]) / 2
    is_missing = text.isin(["", MISSING_MARK])
    if missing_value is None:
        errors[is_missing] = "missing (" + text[is_missing].replace("", "blank") + ")"
    else:
        values[is_missing] = missing_value
    bad = ~(is_number | is_range | is_missing)
    errors[bad] = "unparseable value " + text[bad].map(repr)
    return values, errors.astype(object).where(errors.notna(), None)


def clean_listings(
    raw: pd.DataFrame, bounds: Bounds | None = None, geo: GeoBox | None = None
) -> CleaningResult:
    """Clean raw listings; rejected rows go to the quarantine with a reason."""
    bounds = bounds or Bounds()
    geo = geo or GeoBox()
    check_raw_columns(raw, "raw listings")
    text = normalize_text(raw).reset_index(drop=True)
    reasons = pd.Series("", index=text.index, dtype=object)

    def reject(mask: pd.Series, reason: pd.Series | str) -> None:
        mask = mask & (reasons == "")
        reasons[mask] = reason[mask] if isinstance(reason, pd.Series) else reason

    duplicated = text.duplicated(keep="first")
    first_of = text.groupby(list(text.columns), sort=False, dropna=False).ngroup()
    first_row = pd.Series(text.index, index=text.index).groupby(first_of).transform("min")
    reject(duplicated, "duplicate of raw row " + first_row.astype(str))

    clean = pd.DataFrame(index=text.index)
    for raw_name, name in NUMERIC_RAW_TO_CLEAN.items():
        values, errors = parse_numeric(text[raw_name], _MISSING_MEANS[name])
        clean[name] = values
        reject(errors.notna(), f"{raw_name}: " + errors.fillna(""))

    clean["neighborhood"] = text["neighborhood"]
    reject(text["neighborhood"] == "", "neighborhood: missing (blank)")
    clean["address"] = text["address"].replace("", None)
    clean["city"] = text["city"].replace("", None)

    for name, (low, high) in vars(bounds).items():
        outside = ~clean[name].between(low, high) & clean[name].notna()
        reject(
            outside, f"{name}: out of range [{low:g}, {high:g}]: " + clean[name].map("{:g}".format)
        )

    off_map = ~(
        clean["latitude"].between(*geo.latitude) & clean["longitude"].between(*geo.longitude)
    )
    has_coordinates = clean["latitude"].notna() | clean["longitude"].notna()
    clean.loc[off_map, ["latitude", "longitude"]] = np.nan

    rejected = reasons != ""
    quarantined = raw.reset_index(drop=True).loc[rejected, list(RAW_COLUMNS)].astype("string")
    quarantined.insert(0, "raw_row", quarantined.index.astype(int))
    quarantined["reason"] = reasons[rejected]
    kept = clean.loc[~rejected, list(CLEAN_COLUMNS)].reset_index(drop=True)
    return CleaningResult(
        clean=validate(kept, CleanListings),
        quarantined=quarantined.reset_index(drop=True),
        coordinates_cleared=int((off_map & has_coordinates & ~rejected).sum()),
        reasons=reason_counts(reasons[rejected]),
    )


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    """Count reasons by kind (the text before the detail), e.g. ``rooms: missing``."""
    kinds = reasons.str.replace(
        r"(out of range \[[^\]]*\]|missing|unparseable value|duplicate).*$", r"\1", regex=True
    )
    return {str(k): int(v) for k, v in kinds.value_counts().items()}
