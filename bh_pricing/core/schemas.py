"""Pandera data contracts for each stage, plus a readable validation report."""

from __future__ import annotations

import copy
import warnings
from functools import cache
from typing import Optional

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
from pandera.typing.pandas import DataFrame, Series


class DataContractError(ValueError):
    """A frame broke its Pandera contract; the message lists column, check, count and examples."""


class _Base(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = True


class RawListings(pa.DataFrameModel):
    """Raw Kaggle format: every column is text, exactly as scraped."""

    address: Series[str] = pa.Field(nullable=True)
    adm_fees: Series[str] = pa.Field(nullable=True, alias="adm-fees")
    garage_places: Series[str] = pa.Field(nullable=True, alias="garage-places")
    price: Series[str] = pa.Field(nullable=True)
    rooms: Series[str] = pa.Field(nullable=True)
    square_foot: Series[str] = pa.Field(nullable=True, alias="square-foot")
    neighborhood: Series[str] = pa.Field(nullable=True)
    city: Series[str] = pa.Field(nullable=True)
    latitude: Series[str] = pa.Field(nullable=True)
    longitude: Series[str] = pa.Field(nullable=True)
    listing_id: Optional[Series[str]] = pa.Field(nullable=True)  # noqa: UP045 (pandera)

    class Config:
        coerce = True
        strict = "filter"


class ListingFeatures(_Base):
    """What the model needs to price a listing (the pyfunc input contract)."""

    neighborhood: Series[str] = pa.Field(str_length={"min_value": 1})
    square_foot: Series[float] = pa.Field(gt=0)
    rooms: Series[float] = pa.Field(ge=0)
    garage_places: Series[float] = pa.Field(ge=0)
    adm_fees: Series[float] = pa.Field(ge=0)
    latitude: Series[float] = pa.Field(nullable=True, ge=-90, le=90)
    longitude: Series[float] = pa.Field(nullable=True, ge=-180, le=180)

    class Config:
        strict = "filter"


class CleanListings(ListingFeatures):
    """Cleaned listings: snake_case, numeric, ranges resolved, out-of-range rows removed.

    ``neighborhood`` is the canonical key (``bh_pricing.contract.canonical_neighborhood``, e.g.
    ``santo antonio``) that models train on; the optional ``neighborhood_name`` is its display
    name (most frequent original spelling, e.g. ``Santo Antônio``). The optional ``listing_id``
    is the source's id of the listing (present when the raw file has the column, null where a
    row has none): never a feature, it matches a landed listing with its served predictions.
    """

    price: Series[float] = pa.Field(gt=0)
    address: Series[str] = pa.Field(nullable=True)
    city: Series[str] = pa.Field(nullable=True)
    neighborhood_name: Optional[Series[str]] = pa.Field(nullable=True)  # noqa: UP045 (pandera)
    listing_id: Optional[Series[str]] = pa.Field(nullable=True)  # noqa: UP045 (pandera)

    class Config:
        strict = True


class TrainingListings(CleanListings):
    """Clean listings in the training data: the market ``batch`` they come from
    (``clean_listings`` for the original data) and their recency ``sample_weight``."""

    batch: Series[str] = pa.Field(str_length={"min_value": 1})
    sample_weight: Series[float] = pa.Field(gt=0, le=1)

    class Config:
        strict = True


class QuarantinedListings(pa.DataFrameModel):
    """Raw rows that did not make it into clean listings, with the reason."""

    raw_row: Series[int] = pa.Field(ge=0)
    reason: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        coerce = True
        strict = False


def validate(
    frame: pd.DataFrame,
    schema: type[pa.DataFrameModel],
    max_examples: int = 5,
    *,
    coerce: bool = True,
) -> DataFrame:
    """Validate ``frame`` lazily; on failure raise DataContractError with a readable report.

    ``coerce=False`` checks ``frame`` as it is (no conversion, so no copy): for frames built
    with the schema's dtypes, whose text columns may be categorical, so that Pandera checks
    each distinct text once instead of a Python string per row (every check still applies to
    every row).
    """
    checked = schema.to_schema() if coerce else _without_coercion(schema)
    try:
        with warnings.catch_warnings():
            # Pandera's str check maps a categorical with missing values through pandas, which
            # warns that the Index it builds will keep object dtype in pandas 3; the check's
            # result (each value a str, or missing) is the same either way.
            warnings.filterwarnings(
                "ignore", "The behavior of Index.insert with object-dtype", FutureWarning
            )
            return checked.validate(frame, lazy=True, inplace=not coerce)
    except pa_errors.SchemaErrors as exc:
        raise DataContractError(
            format_failures(schema.__name__, exc.failure_cases, max_examples)
        ) from None


@cache
def _without_coercion(schema: type[pa.DataFrameModel]) -> pa.DataFrameSchema:
    checked = copy.deepcopy(schema.to_schema())
    checked.coerce = False
    return checked


def format_failures(schema_name: str, failure_cases: pd.DataFrame, max_examples: int = 5) -> str:
    """Group Pandera failure cases into one line per (column, check) with count and examples."""
    cases = failure_cases.copy()
    cases["column"] = cases["column"].fillna("<frame>").astype(str)
    cases["check"] = cases["check"].astype(str)
    lines = [f"{schema_name} contract violated:"]
    for (column, check), group in cases.groupby(["column", "check"], sort=True):
        examples = ", ".join(repr(v) for v in group["failure_case"].head(max_examples).tolist())
        rows = group["index"].dropna().head(max_examples).tolist()
        where = f" at rows {rows}" if rows else ""
        lines.append(
            f"  - column '{column}' failed {check}: {len(group)} case(s){where}; e.g. {examples}"
        )
    return "\n".join(lines)
