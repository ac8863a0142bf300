"""The prediction API as a plain function of (method, path, body): routing, validation, errors.

``handler`` (Lambda) and ``local`` (http.server) only translate their transport to ``App.handle``.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from bh_pricing.serving.predlog import PredictionLog
from bh_pricing.serving.runtime import ModelHolder, ModelUnavailableError, ServedModel
from bh_pricing.serving.schemas import (
    ErrorBody,
    FieldProblem,
    Listing,
    RequestError,
    parse_listings,
)

MAX_BODY_BYTES = 1_000_000
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class ServingSettings:
    """Where the bundle and the prediction log live, and how often to retry a failed load."""

    model_uri: str | None
    prediction_log_uri: str | None
    retry_seconds: float = 5.0
    log_max_records: int = 100
    log_max_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """Read ``BH_PRICING_MODEL_URI``, ``BH_PRICING_PREDICTION_LOG_URI`` and the tuning knobs."""
        env = os.environ if environ is None else environ
        return cls(
            model_uri=env.get("BH_PRICING_MODEL_URI") or None,
            prediction_log_uri=env.get("BH_PRICING_PREDICTION_LOG_URI") or None,
            retry_seconds=float(env.get("BH_PRICING_MODEL_RETRY_SECONDS", "5")),
            log_max_records=int(env.get("BH_PRICING_LOG_MAX_RECORDS", "100")),
            log_max_seconds=float(env.get("BH_PRICING_LOG_MAX_SECONDS", "30")),
        )


@dataclass
class Response:
    """Status, JSON-able body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json_body(self) -> str:
        """The body serialised as compact JSON."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))


def error(
    status: int, message: str, details: list[FieldProblem] | None = None, **headers: str
) -> Response:
    """An error response naming each field and problem."""
    body = ErrorBody(error=message, details=details or []).model_dump(exclude_none=True)
    return Response(status, body, dict(headers))


class App:
    """One per process: holds the model (loaded lazily, once) and the prediction log buffer."""

    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.models = ModelHolder(settings.model_uri, settings.retry_seconds)
        self.log = PredictionLog(
            settings.prediction_log_uri, settings.log_max_records, settings.log_max_seconds
        )
        self.routes = {
            "/predict": {"POST": self.predict},
            "/health": {"GET": self.health},
            "/model": {"GET": self.model_info},
            "/openapi.json": {"GET": self.openapi},
            "/": {"GET": self.index},
        }

    def handle(self, method: str, path: str, body: bytes | None, request_id: str = "") -> Response:
        """Answer one request; never raises for bad input."""
        request_id = request_id or uuid.uuid4().hex
        route = self.routes.get(path.rstrip("/") or "/")
        if route is None:
            response = error(404, f"no route {path}", [_problem("path", f"unknown path {path!r}")])
        elif method.upper() not in route:
            allowed = ", ".join(sorted(route))
            problem = _problem("method", f"{method} not allowed on {path}; use {allowed}")
            response = error(405, "method not allowed", [problem], Allow=allowed)
        else:
            try:
                response = route[method.upper()](body, request_id)
            except RequestError as exc:
                response = error(exc.status, exc.error, exc.details)
            except ModelUnavailableError as exc:
                response = error(503, str(exc), **{"Retry-After": "5"})
        if isinstance(response.body, dict) and response.status >= 400:
            response.body["request_id"] = request_id
        return response

    def end_invocation(self) -> None:
        """Flush the prediction log if due (called when an invocation or HTTP request ends)."""
        self.log.flush_if_due()

    def close(self) -> None:
        """Write whatever the prediction log still buffers (process exit)."""
        self.log.flush()

    def predict(self, body: bytes | None, request_id: str) -> Response:
        """Price one listing (object) or a batch (list)."""
        listings, single = parse_listings(_parse_json(body))
        model = self.models.get()
        records = [listing.model_dump() for listing in listings]
        prices = model.predict_records(records)
        bad = [i for i, p in enumerate(prices) if not math.isfinite(p)]
        if bad:
            where = [_problem(_item(i, single), "the model cannot price this listing") for i in bad]
            raise RequestError(422, "listing(s) outside what the model can price", where)
        self.log.record(request_id, model.manifest.model_version, records, prices.tolist())
        warnings = _warnings(model, listings, single)
        rounded = [round(float(p), 2) for p in prices]
        result: dict[str, Any] = (
            {"price": rounded[0]} if single else {"prices": rounded, "count": len(rounded)}
        )
        result |= {
            "currency": "BRL",
            "model_version": model.manifest.model_version,
            "request_id": request_id,
        }
        if warnings:
            result["warnings"] = warnings
        return Response(200, result)

    def health(self, _body: bytes | None, _request_id: str) -> Response:
        """200 when a model is loaded (loading it if needed), 503 otherwise; log counters."""
        try:
            self.models.get()
            status = 200
        except ModelUnavailableError:
            status = 503
        body = {
            "status": "ok" if status == 200 else "unavailable",
            "model": self.models.status(),
            "prediction_log": self.log.status(),
        }
        return Response(status, body)

    def model_info(self, _body: bytes | None, _request_id: str) -> Response:
        """Summary of the served bundle's manifest."""
        model = self.models.get()
        manifest = model.manifest
        return Response(
            200,
            {
                "model_name": manifest.model_name,
                "model_version": manifest.model_version,
                "run_id": manifest.run_id,
                "created_at": manifest.created_at,
                "estimator": manifest.estimator,
                "target_transform": manifest.target_transform,
                "test_metrics": manifest.test_metrics,
                "features": [f.model_dump() for f in manifest.input_schema.features],
                "known_neighborhoods": manifest.input_schema.known_neighborhoods,
                "bundle_uri": model.uri,
            },
        )

    def openapi(self, _body: bytes | None, _request_id: str) -> Response:
        """The OpenAPI document shipped with the package."""
        return Response(200, openapi_document())

    def index(self, _body: bytes | None, _request_id: str) -> Response:
        """Where to start."""
        routes = [f"{m} {p}" for p, methods in self.routes.items() for m in methods if p != "/"]
        return Response(200, {"service": "bh-pricing", "routes": routes})


_OPENAPI: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    """``openapi.json`` from the package, read once."""
    global _OPENAPI
    if _OPENAPI is None:
        text = resources.files("bh_pricing.serving").joinpath("openapi.json").read_text()
        _OPENAPI = json.loads(text)
    return _OPENAPI


def _problem(name: str, problem: str) -> FieldProblem:
    return FieldProblem(field=name, problem=problem)


def _item(index: int, single: bool) -> str:
    return "body" if single else f"[{index}]"


def _parse_json(body: bytes | None) -> Any:
    if not body:
        raise RequestError(400, "empty body", [_problem("body", "send a listing as JSON")])
    if len(body) > MAX_BODY_BYTES:
        problem = _problem("body", f"{len(body)} bytes, at most {MAX_BODY_BYTES}")
        raise RequestError(413, "body too large", [problem])
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise RequestError(400, "body is not UTF-8", [_problem("body", str(exc))]) from None
    except json.JSONDecodeError as exc:
        raise RequestError(400, "malformed JSON", [_problem("body", str(exc))]) from None
    except RecursionError:
        raise RequestError(400, "malformed JSON", [_problem("body", "nested too deeply")]) from None


def _warnings(model: ServedModel, listings: list[Listing], single: bool) -> list[str]:
    notes = []
    for i, listing in enumerate(listings):
        where = "" if single else f"[{i}]."
        if model.known_neighborhoods and not model.knows_neighborhood(listing.neighborhood):
            notes.append(
                f"{where}neighborhood: {listing.neighborhood!r} was not seen in training; "
                "priced from the other features"
            )
        if listing.latitude is None or listing.longitude is None:
            notes.append(f"{where}latitude/longitude: missing; priced without the location")
    return notes[:50]
