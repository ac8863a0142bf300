"""Property-based fuzzing of the Lambda handler and the ASGI app: whatever the client sends, the
answer is never 5xx."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bh_pricing.contract import DEFAULT_BOUNDS, canonical_name
from bh_pricing.serving import handler
from bh_pricing_tests.serving.conftest import _alb_event, _v1_event, _v2_event

FIELDS = [
    "neighborhood",
    "square_foot",
    "square-foot",
    "rooms",
    "garage_places",
    "garage-places",
    "adm_fees",
    "adm-fees",
    "latitude",
    "longitude",
    "address",
    "price",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["102.0", "--", "", " 3 ", "1e400", "NaN", "-0", "45-65", "Savassi"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=3,
)
listing = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=10)
bodies = st.one_of(
    listing.map(json.dumps),
    st.lists(listing, max_size=5).map(json.dumps),
    values.map(json.dumps),
    st.text(max_size=50),
    st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
    st.none(),
)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "get", ""])
paths = st.sampled_from(
    ["/predict", "/health", "/model", "/openapi.json", "/", "/x", ""]
) | st.text(max_size=10)


def _event(version: int, method: str, path: str, body: str | None, b64: bool) -> dict[str, Any]:
    """A realistic v1, v2 or ALB event carrying any method, path and body."""
    make = {1: _v1_event, 2: _v2_event, 3: _alb_event}[version]
    event = make(method or "GET", path)
    text = (
        base64.b64encode(body.encode("utf-8", "surrogatepass")).decode() if b64 and body else body
    )
    if version == 2:
        event["requestContext"]["http"]["method"] = method
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    else:
        event["httpMethod"], event["path"] = method, path
    event["body"], event["isBase64Encoded"] = text, b64
    return event


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    version=st.sampled_from([1, 2, 3]),
    method=methods,
    path=paths,
    body=bodies,
    b64=st.booleans(),
)
def test_handler_never_answers_5xx(
    service: Any, version: int, method: str, path: str, body: str | None, b64: bool
) -> None:
    response = handler(_event(version, method, path, body, b64), None)
    assert 200 <= response["statusCode"] < 500, response
    payload = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert payload["error"]
        assert payload["request_id"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=listing)
def test_any_listing_shaped_body_is_priced_or_rejected_with_fields(
    service: Any, body: dict
) -> None:
    response = handler(_event(1, "POST", "/predict", json.dumps(body), False), None)
    payload = json.loads(response["body"])
    assert response["statusCode"] in (200, 400, 422), payload
    if response["statusCode"] == 200:
        assert payload["price"] > 0
    else:
        assert all(d["field"] and d["problem"] for d in payload["details"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    neighborhood=st.text(min_size=1, max_size=40).filter(lambda s: canonical_name(s) != ""),
    square_foot=st.floats(*DEFAULT_BOUNDS.square_foot),
    rooms=st.integers(*(int(b) for b in DEFAULT_BOUNDS.rooms)),
    # any latitude: off the map it is cleared and the listing priced without the location
    latitude=st.none() | st.floats(min_value=-90, max_value=90),
)
def test_valid_listings_always_get_a_positive_price(
    service: Any, neighborhood: str, square_foot: float, rooms: int, latitude: float | None
) -> None:
    listing = {
        "neighborhood": neighborhood,
        "square_foot": square_foot,
        "rooms": rooms,
        "latitude": latitude,
    }
    response = handler(_event(2, "POST", "/predict", json.dumps(listing), True), None)
    payload = json.loads(response["body"])
    assert response["statusCode"] == 200, payload
    assert payload["price"] > 0
