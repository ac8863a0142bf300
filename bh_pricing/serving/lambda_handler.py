"""AWS Lambda entry point: the ASGI app through Mangum, plus warmers and scheduled pings.

``bh_pricing.serving.handler`` (this module's ``handler``) answers API Gateway REST (payload v1),
HTTP API (v2), Function URL and ALB events with the FastAPI app of ``api``. Any other event
(``{"source": "serverless-plugin-warmup"}``, an EventBridge schedule, ``{}``) loads the model
and returns its status without an HTTP response. The service (model, prediction log) is built on
the first invocation and reused by the container; the log is flushed when due at the end of
every invocation.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mangum import Mangum
from mangum.types import LambdaHandler

from bh_pricing.serving.api import create_app
from bh_pricing.serving.schemas import ErrorBody, FieldProblem
from bh_pricing.serving.service import PricingService, ServingSettings

logger = logging.getLogger(__name__)
_SERVICE: PricingService | None = None
_ADAPTER: Mangum | None = None


def get_service() -> PricingService:
    """The process-wide service, built from the environment on first use."""
    global _SERVICE
    if _SERVICE is None:
        _SERVICE = PricingService(ServingSettings.from_env())
    return _SERVICE


def reset_service(service: PricingService | None = None) -> None:
    """Replace the process-wide service (None: rebuild from the environment on next use)."""
    global _SERVICE, _ADAPTER
    _SERVICE, _ADAPTER = service, None


@contextmanager
def serving(service: PricingService) -> Iterator[None]:
    """Answer with ``service`` inside the block, then put the process-wide service back.

    For callers that run the real handler on a bundle of their choice (the post-publication smoke
    check) without touching the environment or the service a container already holds.
    """
    global _SERVICE, _ADAPTER
    saved = _SERVICE, _ADAPTER
    _SERVICE, _ADAPTER = service, None
    try:
        yield
    finally:
        _SERVICE, _ADAPTER = saved


def _adapter() -> Mangum:
    global _ADAPTER
    if _ADAPTER is None:
        # Stage and base path are matched by whole segments in the app (api.PathPrefixes), not
        # by Mangum's string prefix; Lambda has no lifespan, the log is flushed below.
        _ADAPTER = Mangum(create_app(get_service()), lifespan="off", api_gateway_base_path="/")
    return _ADAPTER


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Answer one Lambda invocation; flush the prediction log if due."""
    adapter = _adapter()
    service = get_service()
    try:
        try:
            http = adapter.infer(event, context) if isinstance(event, dict) else None
        except RuntimeError:  # Mangum recognises no HTTP event: a warmer or a schedule
            http = None
        if http is None:
            return warm(service, event)
        problem = _body_problem(event) or _scope_problem(http)
        if problem is not None:
            return _error(400, "invalid event", problem, event, context)
        return adapter(event, context)
    finally:
        service.log.flush_if_due()


def warm(service: PricingService, event: Any) -> dict[str, Any]:
    """A non-HTTP invocation: load the model (if not yet) and report, never an error response."""
    model = service.models.try_get()
    source = event.get("source") if isinstance(event, dict) else None
    kind = event.get("detail-type") if isinstance(event, dict) else None
    logger.info("non-HTTP invocation (source %r, %r): model loaded=%s", source, kind, bool(model))
    return {
        "status": "ok" if model is not None else "unavailable",
        "source": source or kind or "unknown",
        "model": service.models.status(),
    }


def _scope_problem(http: LambdaHandler) -> FieldProblem | None:
    """Why Mangum cannot build the request from an event it recognised, if it cannot."""
    try:
        http.scope  # noqa: B018 - built for its KeyError on a malformed event
    except (KeyError, TypeError, AttributeError) as exc:
        kind = type(http).__name__
        return FieldProblem(field="event", problem=f"malformed {kind} event: {exc!r} is missing")
    return None


def _body_problem(event: dict[str, Any]) -> FieldProblem | None:
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        return FieldProblem(field="event", problem="body must be a string")
    if event.get("isBase64Encoded") and body:
        try:
            base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            return FieldProblem(field="event", problem=f"isBase64Encoded but not base64: {exc}")
    return None


def _error(
    status: int, message: str, problem: FieldProblem, event: dict[str, Any], context: Any
) -> dict[str, Any]:
    context_id = getattr(context, "aws_request_id", None)
    request = event.get("requestContext")
    rid = request.get("requestId") if isinstance(request, dict) else None
    body = ErrorBody(
        error=message, details=[problem], request_id=rid or context_id or uuid.uuid4().hex
    )
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body.model_dump()),
        "isBase64Encoded": False,
    }
