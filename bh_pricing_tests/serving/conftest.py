"""Fixtures for the serving tests: small fitted candidates, exported bundles, Lambda events,
published roots and smoke listings."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.intervals import ConformalInterval
from bh_pricing.core.models import CANDIDATES, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.serving import lambda_handler
from bh_pricing.serving.bundle import ExportedBundle, export_bundle
from bh_pricing.serving.manifest import CurrentPointer
from bh_pricing.serving.runtime import read_current
from bh_pricing.serving.service import PricingService, ServingSettings
from bh_pricing.serving.smoke import smoke_listings

# A calibrated 80 % interval: x / 1.25 .. x * 1.25 around each price.
INTERVAL = ConformalInterval(0.8, 0.2231435513142097, 560, "5-fold out-of-fold log residuals")
# Small versions of every candidate type; ridge twice to cover infrequent one-hot categories.
CANDIDATE_PARAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline", {}),
    "ridge": ("ridge", {"alpha": 1.0, "min_frequency": 1}),
    "ridge_infrequent": ("ridge", {"alpha": 0.5, "min_frequency": 20}),
    "gradient_boosting": ("gradient_boosting", {"max_iter": 40}),
    "comparables": ("comparables", {}),
}

_SAVASSI = {
    "neighborhood": "Savassi",
    "square_foot": 90,
    "rooms": 3,
    "garage_places": 2,
    "adm_fees": 750.0,
    "latitude": -19.937,
    "longitude": -43.934,
}
_KAGGLE_ROW = {
    "address": "Rua Alagoas, 1200 ",
    "adm-fees": "950.0",
    "garage-places": "--",
    "rooms": "3",
    "square-foot": "102.0",
    "neighborhood": " Funcionários ",
    "city": " Belo Horizonte ",
    "latitude": "-19.9350000",
    "longitude": "-43.9290000",
}


@pytest.fixture(scope="session")
def listings() -> pd.DataFrame:
    """Clean sample listings (seeded), with a few unknown neighborhoods and missing coordinates."""
    return clean_listings(generate_raw_listings(700, seed=3)).clean


@pytest.fixture(scope="session")
def fitted(listings: pd.DataFrame) -> dict[str, Any]:
    """Each candidate type fitted on the sample listings."""
    X, y = split_features_target(listings)
    with threadpool_limits(1):  # small data: threads only add contention
        return {
            name: CANDIDATES[kind].build(**params).fit(X, y)
            for name, (kind, params) in CANDIDATE_PARAMS.items()
        }


def _export(estimator: Any, root: str, listings: pd.DataFrame, **kwargs: Any) -> ExportedBundle:
    """Export with the usual manifest fields (overridable)."""
    options: dict[str, Any] = {
        "model_version": "7",
        "run_id": "0123abcd",
        "test_metrics": {"rmse": 123456.0, "mape": 0.12},
        "known_neighborhoods": sorted(listings["neighborhood"].unique()),
        "interval": INTERVAL,
        "check_frame": listings,
    } | kwargs
    return export_bundle(estimator, root, **options)


@pytest.fixture(scope="session")
def bundle_root(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A published gradient-boosting bundle (the champion type) under a local root."""
    root = str(tmp_path_factory.mktemp("bundles"))
    _export(fitted["gradient_boosting"], root, listings)
    return root


@pytest.fixture
def service(bundle_root: str, tmp_path: Path) -> Iterator[PricingService]:
    """The Lambda's process-wide service serving ``bundle_root``, logging under ``tmp_path/log``.

    The log is written at the end of every invocation (``log_max_records=1``) so tests can read it.
    """
    settings = ServingSettings(
        model_uri=bundle_root,
        prediction_log_uri=str(tmp_path / "log"),
        retry_seconds=0,
        log_max_records=1,
    )
    service = PricingService(settings)
    lambda_handler.reset_service(service)
    yield service
    lambda_handler.reset_service(None)


def _v1_event(
    method: str, path: str, body: Any = None, *, base64_body: bool = False, raw: bool = False
) -> dict[str, Any]:
    """An API Gateway REST API (payload v1) proxy event as Lambda receives it."""
    text = body if raw or body is None else json.dumps(body)
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "x-api-key": "k"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "apiKey": "k"},
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }


def _v2_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    base64_body: bool = False,
    stage: str = "$default",
    stage_in_path: bool = True,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) proxy event as Lambda receives it.

    A named stage is in the path (``/<stage>/predict``) on the execute-api domain, and not behind a
    custom domain mapped to the stage (``stage_in_path=False``).
    """
    text = None if body is None else json.dumps(body)
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    named = stage != "$default" and stage_in_path
    raw_path = f"/{stage}{path}" if named else path
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": stage,
            "timeEpoch": 1700000000000,
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }


def _function_url_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A Lambda Function URL event (payload v2 format, stage ``$default``)."""
    event = _v2_event(method, path, body)
    event["requestContext"]["domainName"] = "abc123.lambda-url.us-east-1.on.aws"
    event["requestContext"]["apiId"] = "abc123"
    return event


def _alb_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An Application Load Balancer target-group event (single-value headers)."""
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                "targetgroup/bh-pricing/6d0ecf831eec9f09"
            }
        },
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"content-type": "application/json", "host": "pricing.example.com"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def _invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Invoke the Lambda handler with an HTTP event; status and decoded JSON body."""
    response = lambda_handler.handler(event, None)
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def savassi() -> dict[str, Any]:
    """A complete listing with snake_case names."""
    return dict(_SAVASSI)


@pytest.fixture
def kaggle_row() -> dict[str, Any]:
    """A raw Kaggle row: hyphenated names, numeric strings, padding, ``--``, extra columns."""
    return dict(_KAGGLE_ROW)


@pytest.fixture
def export() -> Any:
    """``export(estimator, root, listings, **overrides)`` -> ExportedBundle."""
    return _export


@pytest.fixture
def published(
    tmp_path: Path, fitted: dict[str, Any], listings: pd.DataFrame, export: Any
) -> tuple[str, CurrentPointer, CurrentPointer]:
    """A root where ridge v6 was published, then gradient boosting v7 (previous, published)."""
    root = str(tmp_path / "bundles")
    export(fitted["ridge"], root, listings, model_version="6")
    previous = read_current(root)
    export(fitted["gradient_boosting"], root, listings, model_version="7")
    current = read_current(root)
    assert previous is not None
    assert current is not None
    return root, previous, current


@pytest.fixture
def rows(listings: pd.DataFrame) -> list[dict[str, Any]]:
    """The listings the smoke test sends (``smoke_listings`` of the sample)."""
    return smoke_listings(listings)


@pytest.fixture
def v1_event() -> Any:
    """Builder of REST API (payload v1) events."""
    return _v1_event


@pytest.fixture
def v2_event() -> Any:
    """Builder of HTTP API (payload v2) events."""
    return _v2_event


@pytest.fixture
def function_url_event() -> Any:
    """Builder of Lambda Function URL events."""
    return _function_url_event


@pytest.fixture
def alb_event() -> Any:
    """Builder of ALB events."""
    return _alb_event


@pytest.fixture
def invoke() -> Any:
    """Call the Lambda handler with an event; returns (status, JSON body)."""
    return _invoke
