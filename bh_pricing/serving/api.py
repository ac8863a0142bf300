"""The prediction API as one ASGI app (FastAPI), the same for Lambda (Mangum) and uvicorn.

    uvicorn --factory bh_pricing.serving.api:create_app --port 8080

Routes: ``POST /predict``, ``GET /health``, ``GET /model``, ``GET /openapi.json``, ``GET /docs``.
Every error answers ``{"error", "details": [{"field", "problem"}], "request_id"}``. Under uvicorn
the lifespan loads the model at startup, flushes the prediction log in the background by the
same rule as Lambda (``max_records`` or ``max_seconds``) and once more at shutdown; Lambda
flushes at the end of each invocation instead (``lambda_handler``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from bh_pricing.serving.predlog import PredictionLog
from bh_pricing.serving.responses import (
    BatchPrediction,
    HealthStatus,
    ModelSummary,
    PricePrediction,
)
from bh_pricing.serving.runtime import ModelUnavailableError
from bh_pricing.serving.schemas import (
    MAX_BATCH,
    ErrorBody,
    FieldProblem,
    Listing,
    RequestError,
    parse_listings,
)
from bh_pricing.serving.service import PricingService, ServingSettings

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000
TITLE = "bh-pricing"
DESCRIPTION = (
    "Price a Belo Horizonte listing in BRL with the champion model, with an 80 % prediction "
    "interval. Fields accept snake_case or the Kaggle names (square-foot, garage-places, "
    "adm-fees); numbers may be numeric strings. Unknown neighborhoods and missing coordinates "
    "are priced (with a warning). Every error names the field and the problem."
)


def create_app(service: PricingService | None = None) -> FastAPI:
    """The app around ``service`` (default: built from the environment, ``ServingSettings``)."""
    service = service or PricingService(ServingSettings.from_env())
    app = FastAPI(
        title=TITLE,
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan,
        responses={
            "503": {"model": ErrorBody, "description": "no model loaded (retried later)"},
        },
    )
    app.state.service = service
    app.state.flush_wanted = None
    _add_routes(app)
    _add_error_handlers(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    if service.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(service.settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "x-api-key"],
        )
    app.add_middleware(PathPrefixes, base_path=service.settings.base_path)
    return app


def _add_routes(app: FastAPI) -> None:
    service: PricingService = app.state.service
    listing_ref = {"$ref": "#/components/schemas/Listing"}
    body_schema = {
        "oneOf": [
            listing_ref,
            {"type": "array", "items": listing_ref, "minItems": 1, "maxItems": MAX_BATCH},
        ]
    }

    @app.post(
        "/predict",
        summary=f"Price one listing, or a list of at most {MAX_BATCH}",
        response_model=PricePrediction | BatchPrediction,
        response_model_exclude_none=True,
        responses={
            400: {"model": ErrorBody, "description": "malformed JSON or empty body"},
            413: {"model": ErrorBody, "description": "body or batch too large"},
            422: {
                "model": ErrorBody,
                "description": "invalid listing: each problem names its field",
            },
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
    )
    async def predict(request: Request) -> JSONResponse:
        """Price one listing (object) or a batch (list), each with its prediction interval.

        The body is read as JSON whatever its Content-Type (``curl -d`` sends a form type).
        """
        listings, single = parse_listings(_parse_json(await _read_body(request)))
        if service.models.model is None:
            await run_in_threadpool(service.models.get)
        result = service.predict(listings, single, request_id(request))
        wanted: asyncio.Event | None = request.app.state.flush_wanted
        if wanted is not None and service.log.pending >= service.log.max_records:
            wanted.set()
        # Already a response model: a second validation by the framework would only cost time.
        return JSONResponse(result.model_dump(mode="json", exclude_none=True))

    @app.head("/health", include_in_schema=False)
    @app.get(
        "/health",
        summary="Model status and prediction-log counters",
        response_model=HealthStatus,
        responses={503: {"model": HealthStatus, "description": "no model loaded"}},
    )
    async def health() -> JSONResponse:
        """200 when a model is loaded (loading it if needed), 503 otherwise."""
        status = await run_in_threadpool(service.health)
        code = 200 if status.status == "ok" else 503
        return JSONResponse(status.model_dump(mode="json"), status_code=code)

    @app.head("/model", include_in_schema=False)
    @app.get(
        "/model",
        summary="Manifest of the served bundle (version, run id, test metrics, interval)",
        response_model=ModelSummary,
    )
    async def model() -> ModelSummary:
        """Summary of the served bundle's manifest."""
        return await run_in_threadpool(service.model_summary)

    @app.head("/", include_in_schema=False)
    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        """Where to start."""
        return {
            "service": TITLE,
            "routes": ["POST /predict", "GET /health", "GET /model", "GET /openapi.json"],
            "docs": "/docs",
        }


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The framework's OpenAPI document, plus the ``Listing`` schema of the request body and
    the API Gateway key scheme (FastAPI's documented way to extend it; cached on the app)."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        listing = Listing.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(listing.pop("$defs", {}))
        schemas["Listing"] = listing
        document["components"]["securitySchemes"] = {
            "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}
        }
        document["security"] = [{"api_key": []}]
        app.openapi_schema = document
    return app.openapi_schema


def render_openapi() -> str:
    """The document as stored in ``bh_pricing/serving/openapi.json``.

    Regenerate with ``python -m bh_pricing.serving.api``.
    """
    document = openapi_document(create_app(PricingService(ServingSettings(None, None))))
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def request_id(request: Request) -> str:
    """The API Gateway request id, Lambda's, ``X-Request-Id``, or a new one (kept per request)."""
    known = getattr(request.state, "request_id", None)
    if known:
        return known
    event = request.scope.get("aws.event")
    context = request.scope.get("aws.context")
    found = event.get("requestContext", {}).get("requestId") if isinstance(event, dict) else None
    found = found or getattr(context, "aws_request_id", None)
    found = found or request.headers.get("x-request-id") or uuid.uuid4().hex
    request.state.request_id = found
    return found


def error_response(
    request: Request,
    status: int,
    message: str,
    details: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error shape: ``error``, ``details`` (field, problem), ``request_id``."""
    body = ErrorBody(error=message, details=details or [], request_id=request_id(request))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return error_response(request, exc.status, exc.error, exc.details)

    @app.exception_handler(ModelUnavailableError)
    async def _unavailable(request: Request, exc: ModelUnavailableError) -> JSONResponse:
        return error_response(request, 503, str(exc), headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            FieldProblem(
                field=".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                problem=str(e.get("msg", "invalid")),
            )
            for e in exc.errors()
        ]
        return error_response(request, 422, "invalid request", details[:50])

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 404:
            problem = FieldProblem(field="path", problem=f"unknown path {path!r}")
            return error_response(request, 404, f"no route {path}", [problem])
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            problem = f"{request.method} not allowed on {path}; use {allowed}"
            details = [FieldProblem(field="method", problem=problem)]
            return error_response(request, 405, "method not allowed", details, exc.headers)
        return error_response(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, "internal error")


async def _read_body(request: Request) -> bytes:
    """The body (chunked or not), at most ``MAX_BODY_BYTES``; RequestError 413 beyond."""
    too_large = RequestError(
        413,
        "body too large",
        [FieldProblem(field="body", problem=f"more than {MAX_BODY_BYTES} bytes")],
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    if not body:
        raise RequestError(400, "empty body", [FieldProblem(field="body", problem="send JSON")])
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise RequestError(
            400, "body is not UTF-8", [FieldProblem(field="body", problem=str(exc))]
        ) from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            400, "malformed JSON", [FieldProblem(field="body", problem=str(exc))]
        ) from None
    except RecursionError:
        raise RequestError(
            400, "malformed JSON", [FieldProblem(field="body", problem="nested too deeply")]
        ) from None


class PathPrefixes:
    """Route under an API Gateway stage or a custom-domain base path, by whole path segments.

    A request for ``/<stage>/predict`` (execute-api domain), ``/<base>/predict`` (custom domain),
    either combination, or ``/predict`` reaches ``/predict``: leading segments equal to the base
    path (``BH_PRICING_API_BASE_PATH``) or to the event's stage (Lambda; not ``$default``), each
    at most once, become the ASGI ``root_path``, so ``/pre`` is never cut from ``/predict``. A
    prefix is never the whole path: with stage ``predict``, ``/predict`` is the route and
    ``/predict/health`` is ``/health``.
    """

    def __init__(self, app: ASGIApp, base_path: str = "") -> None:
        self.app = app
        self.base = [part for part in base_path.split("/") if part]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "").rstrip("/")
            path = scope["path"]
            rest = path[len(root) :] if root and path.startswith(root) else path
            segments = [part for part in rest.split("/") if part]
            used, prefixes = 0, [p for p in (self.base, _stage(scope)) if p]
            matched = True
            while matched:
                matched = False
                for prefix in prefixes:
                    end = used + len(prefix)
                    if segments[used:end] == prefix and len(segments) > end:
                        used, matched = end, True
                        prefixes.remove(prefix)
                        break
            if used:
                prefix_path = root + "/" + "/".join(segments[:used])
                scope = {**scope, "root_path": prefix_path, "path": root + rest}
        await self.app(scope, receive, send)


def _stage(scope: Scope) -> list[str]:
    event = scope.get("aws.event")
    context = event.get("requestContext") if isinstance(event, dict) else None
    stage = context.get("stage") if isinstance(context, dict) else None
    return [stage] if isinstance(stage, str) and stage and stage != "$default" else []


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """uvicorn: load the model at startup, flush the log in the background and at shutdown."""
    service: PricingService = app.state.service
    await run_in_threadpool(service.models.try_get)
    app.state.flush_wanted = asyncio.Event()
    task = asyncio.create_task(_flush_when_due(service.log, app.state.flush_wanted))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await run_in_threadpool(service.log.flush)


async def _flush_when_due(log: PredictionLog, wanted: asyncio.Event) -> None:
    """Flush whenever ``log.due()``: checked every second (more often for a shorter
    ``max_seconds``) and as soon as a request fills the buffer."""
    period = min(1.0, max(0.05, log.max_seconds))
    while True:
        with suppress(TimeoutError):
            await asyncio.wait_for(wanted.wait(), timeout=period)
        wanted.clear()
        if log.due():
            await run_in_threadpool(log.flush)


if __name__ == "__main__":
    from importlib.resources import files

    target = files("bh_pricing.serving").joinpath("openapi.json")
    with target.open("w") as handle:  # type: ignore[call-overload]
        handle.write(render_openapi())
    print(f"wrote {target}")
