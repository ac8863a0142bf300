"""Request and response shapes of the prediction API (pydantic), with readable errors.

A listing is accepted with the clean snake_case names or the raw Kaggle names (``square-foot``,
``garage-places``, ``adm-fees``); numbers may be JSON numbers or numeric strings like ``"102.0"``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

MAX_BATCH = 1000
# Kaggle columns that are not model features: accepted in a listing and ignored.
IGNORED_FIELDS = frozenset({"address", "city", "price"})
# What the listing sites print for "none" in the garage and fee columns (see core.cleaning).
NONE_MARKS = frozenset({"", "--"})


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _none_means_zero(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip() in NONE_MARKS):
        return 0.0
    return _number(value)


def _optional_coordinate(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip() in NONE_MARKS):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return _number(value)


Number = Annotated[float, BeforeValidator(_number)]
ZeroIfNone = Annotated[float, BeforeValidator(_none_means_zero)]
Coordinate = Annotated[float | None, BeforeValidator(_optional_coordinate)]


class Listing(BaseModel):
    """One listing to price. Missing fees and garage places mean none; coordinates are optional."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, allow_inf_nan=False, frozen=True
    )

    neighborhood: str = Field(min_length=1, max_length=100, description="e.g. 'Savassi'")
    square_foot: Number = Field(
        gt=0,
        le=100_000,
        validation_alias=AliasChoices("square_foot", "square-foot"),
        description="area in m² (the Kaggle column is named square-foot)",
    )
    rooms: Number = Field(ge=0, le=100)
    garage_places: ZeroIfNone = Field(
        0.0, ge=0, le=100, validation_alias=AliasChoices("garage_places", "garage-places")
    )
    adm_fees: ZeroIfNone = Field(
        0.0,
        ge=0,
        le=1_000_000,
        validation_alias=AliasChoices("adm_fees", "adm-fees"),
        description="monthly condominium fee in BRL",
    )
    latitude: Coordinate = Field(None, ge=-90, le=90)
    longitude: Coordinate = Field(None, ge=-180, le=180)

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in IGNORED_FIELDS}
        return data


class FieldProblem(BaseModel):
    """One problem with the request: where (``field``) and what (``problem``)."""

    field: str
    problem: str


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx response."""

    error: str
    details: list[FieldProblem] = Field(default_factory=list)
    request_id: str | None = None


class RequestError(ValueError):
    """The request is invalid; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, error: str, details: list[FieldProblem] | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.details = details or []


def _location(prefix: str, loc: tuple[int | str, ...]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def problems(exc: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """Pydantic errors as ``field``/``problem`` pairs, e.g. ``[3].square_foot``."""
    found = []
    for error in exc.errors(include_url=False):
        problem = error["msg"]
        if error["type"] not in ("missing", "extra_forbidden"):
            shown = repr(error["input"])
            problem += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        found.append(FieldProblem(field=_location(prefix, error["loc"]), problem=problem))
    return found


def parse_listings(payload: Any) -> tuple[list[Listing], bool]:
    """Validate a listing or a list of listings; also whether the payload was a single listing."""
    if isinstance(payload, dict):
        try:
            return [Listing.model_validate(payload)], True
        except ValidationError as exc:
            raise RequestError(422, "invalid listing", problems(exc)) from None
    if not isinstance(payload, list):
        kind = type(payload).__name__ if payload is not None else "null"
        raise RequestError(
            422,
            "invalid body",
            [FieldProblem(field="body", problem=f"expected a listing or a list, got {kind}")],
        )
    if not payload:
        raise RequestError(
            422, "empty batch", [FieldProblem(field="body", problem="the list is empty")]
        )
    if len(payload) > MAX_BATCH:
        raise RequestError(
            413,
            "batch too large",
            [FieldProblem(field="body", problem=f"{len(payload)} listings, at most {MAX_BATCH}")],
        )
    listings, details = [], []
    for index, item in enumerate(payload):
        try:
            listings.append(Listing.model_validate(item))
        except ValidationError as exc:
            details += problems(exc, f"[{index}]")
    if details:
        raise RequestError(422, "invalid listing(s)", details[:50])
    return listings, False
