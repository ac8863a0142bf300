"""AWS Lambda entry point for API Gateway proxy events: REST API (payload v1) and HTTP API (v2).

The app (model + prediction log) is created on the first invocation and reused by the container.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from typing import Any

from bh_pricing.serving.api import JSON_HEADERS, App, Response, ServingSettings, error
from bh_pricing.serving.schemas import FieldProblem

logger = logging.getLogger(__name__)
_APP: App | None = None


def get_app() -> App:
    """The process-wide app, built from the environment on first use."""
    global _APP
    if _APP is None:
        _APP = App(ServingSettings.from_env())
    return _APP


def reset_app(app: App | None = None) -> None:
    """Replace the process-wide app (None: rebuild from the environment on next use)."""
    global _APP
    _APP = app


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda handler: translate the proxy event, answer, flush the prediction log if due."""
    app = get_app()
    request_id = _request_id(event, context)
    try:
        method, path, body = parse_event(event)
    except ValueError as exc:
        response = error(400, "invalid event", [FieldProblem(field="event", problem=str(exc))])
    else:
        try:
            response = app.handle(method, path, body, request_id)
        except Exception:
            logger.exception("unhandled error in %s %s (request %s)", method, path, request_id)
            response = error(500, "internal error")
    if response.status >= 400 and isinstance(response.body, dict):
        response.body.setdefault("request_id", request_id)
    app.end_invocation()
    return to_proxy_response(response)


def parse_event(event: Any) -> tuple[str, str, bytes | None]:
    """Method, path (without the stage) and raw body of a v1 or v2 proxy event."""
    if not isinstance(event, dict):
        raise ValueError("expected an API Gateway proxy event (a JSON object)")
    context = _mapping(event.get("requestContext"))
    if event.get("version") == "2.0":
        http = _mapping(context.get("http"))
        method, path = http.get("method"), event.get("rawPath") or http.get("path")
        stage = context.get("stage")
        if stage and stage != "$default" and isinstance(path, str):
            path = path.removeprefix(f"/{stage}") or "/"
    else:
        method, path = event.get("httpMethod"), event.get("path")
    if not isinstance(method, str) or not isinstance(path, str):
        raise ValueError("missing HTTP method or path (is this an API Gateway proxy event?)")
    raw = event.get("body")
    if raw is None:
        return method, path, None
    if not isinstance(raw, str):
        raise ValueError("body must be a string")
    if event.get("isBase64Encoded"):
        try:
            return method, path, base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"isBase64Encoded is true but the body is not base64: {exc}") from None
    return method, path, raw.encode()


def to_proxy_response(response: Response) -> dict[str, Any]:
    """The proxy integration response (valid for payload v1 and v2)."""
    return {
        "statusCode": response.status,
        "headers": {**JSON_HEADERS, **response.headers},
        "body": response.json_body(),
        "isBase64Encoded": False,
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _request_id(event: Any, context: Any) -> str:
    rid = _mapping(_mapping(event).get("requestContext")).get("requestId")
    if isinstance(rid, str) and rid:
        return rid
    return getattr(context, "aws_request_id", "") or uuid.uuid4().hex
