"""Request and response shapes of the prediction API (pydantic), with readable errors.

A listing is accepted with the clean snake_case names or the raw Kaggle names (``square-foot``,
``garage-places``, ``adm-fees``); its values are read by the listing contract
(``bh_pricing.contract``), so the endpoint accepts exactly what cleaning accepts.
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
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)

from bh_pricing.contract import DEFAULT_BOUNDS, is_missing_word, parse_column


def _bounds(name: str) -> str:
    low, high = getattr(DEFAULT_BOUNDS, name)
    return f"plausible range [{low:g}, {high:g}]"


MAX_BATCH = 1000
MAX_LISTING_ID_LENGTH = 100
# Kaggle columns that are not model features: accepted in a listing and ignored.
IGNORED_FIELDS = frozenset({"address", "city", "price"})


def _feature(name: str) -> BeforeValidator:
    """Read a field with the listing contract, exactly as cleaning reads that column."""

    def read(value: Any) -> float | None:
        parsed = parse_column(name, [value])
        if parsed.problem[0] is not None:
            raise ValueError(parsed.problem[0])
        number = float(parsed.values[0])
        return None if math.isnan(number) else number

    return BeforeValidator(read)


def _neighborhood(value: Any) -> Any:
    if is_missing_word(value):
        shown = value.strip() if isinstance(value, str) else ""
        raise ValueError(f"missing ({shown or 'blank'})")
    return value


Area = Annotated[float, _feature("square_foot")]
Rooms = Annotated[float, _feature("rooms")]
GaragePlaces = Annotated[float, _feature("garage_places")]
Fees = Annotated[float, _feature("adm_fees")]
Latitude = Annotated[float | None, _feature("latitude")]
Longitude = Annotated[float | None, _feature("longitude")]


class Listing(BaseModel):
    """One listing to price, read by the listing contract (``bh_pricing.contract``) like a raw
    row in cleaning: numbers, numeric strings and ``a-b`` ranges (midpoint); missing values
    (``null``, blank, ``--``, ``nan``, ``NULL``, ``N/A``, ``-``) mean no garage, no fee or unknown
    coordinates; area, rooms and garage outside their bounds are rejected (422 naming the field);
    a fee outside its bounds counts as no fee and coordinates outside Belo Horizonte as unknown
    (both, as a pair). Any spelling of a known neighborhood prices as that neighborhood.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, allow_inf_nan=False, frozen=True
    )

    neighborhood: Annotated[str, BeforeValidator(_neighborhood)] = Field(
        min_length=1, max_length=100, description="e.g. 'Savassi' (any case, accents optional)"
    )
    square_foot: Area = Field(
        validation_alias=AliasChoices("square_foot", "square-foot"),
        description="area in m² (the Kaggle column is named square-foot), "
        f"{_bounds('square_foot')}; ranges such as '45-65' count as their midpoint",
    )
    rooms: Rooms = Field(description=f"rooms, {_bounds('rooms')}; '2-3' counts as 2.5")
    garage_places: GaragePlaces = Field(
        0.0,
        validation_alias=AliasChoices("garage_places", "garage-places"),
        description=f"parking places, {_bounds('garage_places')}; missing or '--' means none",
    )
    adm_fees: Fees = Field(
        0.0,
        validation_alias=AliasChoices("adm_fees", "adm-fees"),
        description=f"monthly condominium fee in BRL; missing, or outside "
        f"{_bounds('adm_fees')}, means none",
    )
    latitude: Latitude = Field(None, description="degrees; outside the metro area = unknown")
    longitude: Longitude = Field(None, description="degrees; outside the metro area = unknown")
    listing_id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_LISTING_ID_LENGTH,
        description="optional caller's id of the listing, not a feature: recorded in the "
        "prediction log so the price it later sells for (a landed batch's listing_id column) "
        "measures the realized error",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_ignored(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in IGNORED_FIELDS}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _coordinates_as_a_pair(cls, data: Any, handler: ModelWrapValidatorHandler) -> Listing:
        listing = handler(data)
        if (listing.latitude is None) == (listing.longitude is None):
            return listing
        return listing.model_copy(update={"latitude": None, "longitude": None})


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
