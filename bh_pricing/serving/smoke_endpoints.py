"""The endpoints the post-publication smoke test can call, each answering like ``POST /predict``.

- ``LocalHandler``: the real Lambda ``handler`` in-process on a bundle root;
- ``HttpEndpoint``: a deployed API over HTTPS (``BH_PRICING_SMOKE_URL``);
- ``LambdaEndpoint``: the deployed function invoked directly (``BH_PRICING_SMOKE_LAMBDA``).

The handler and the function get the same event, ``predict_event`` (API Gateway HTTP API, payload
v2), and their Mangum response is read by one function, ``http_answer``. Whatever goes wrong on the
way is an ``EndpointAnswer`` with status 0 and an ``error`` that names the target: the smoke test
fails on it and never calls another endpoint instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ERROR_TEXT = 500  # characters of an error payload or a body quoted in a message


@dataclass(frozen=True)
class EndpointAnswer:
    """What the endpoint said: HTTP status and JSON body (``error`` when there was no answer)."""

    status: int
    body: dict[str, Any]
    error: str | None = None


class Endpoint(Protocol):
    """Something that prices a batch of listings like ``POST /predict``."""

    description: str

    def predict(self, listings: list[dict[str, Any]]) -> EndpointAnswer:
        """Send ``listings`` as one batch; the answer, whatever its status."""
        ...


def predict_event(listings: list[dict[str, Any]]) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event for ``POST /predict`` with ``listings``."""
    request_id = f"smoke-{uuid.uuid4().hex[:12]}"
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "bh-pricing-smoke"},
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/predict",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bh-pricing-smoke",
            },
            "requestId": request_id,
            "routeKey": "POST /predict",
            "stage": "$default",
        },
        "body": json.dumps(listings),
        "isBase64Encoded": False,
    }


def http_answer(response: Any, source: str) -> EndpointAnswer:
    """The HTTP answer in a Lambda proxy response (``statusCode``, ``body``, ``isBase64Encoded``).

    ``source`` names who returned ``response`` in the error of an answer that is not one (status
    0), e.g. a warmer's status because the event was not taken for an HTTP request.
    """
    status = response.get("statusCode") if isinstance(response, dict) else None
    if not isinstance(status, int) or isinstance(status, bool):
        text = repr(response)[:ERROR_TEXT]
        return EndpointAnswer(0, {}, f"{source} returned no HTTP response (no statusCode): {text}")
    body = response.get("body") or ""
    if not isinstance(body, str):
        return EndpointAnswer(status, {}, f"{source} returned a body that is not a string")
    if response.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            return EndpointAnswer(status, {}, f"{source} returned a bad base64 body: {exc}")
    return _answer(status, body)


def _answer(status: int, text: str) -> EndpointAnswer:
    try:
        body = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return EndpointAnswer(status, {}, f"body is not JSON: {text[:200]!r}")
    return EndpointAnswer(status, body if isinstance(body, dict) else {"body": body})


class LocalHandler:
    """The real Lambda ``handler`` in-process, serving ``bundle_root``, writing no prediction log.

    The handler gets its own service for the call (``lambda_handler.serving``): the environment
    and any service the process already holds are left as they were.
    """

    def __init__(self, bundle_root: str) -> None:
        self.bundle_root = bundle_root
        self.description = f"Lambda handler in-process on {bundle_root}"

    def predict(self, listings: list[dict[str, Any]]) -> EndpointAnswer:
        """Invoke the handler with an API Gateway HTTP API (v2) ``POST /predict`` event."""
        from bh_pricing.serving import lambda_handler
        from bh_pricing.serving.service import PricingService, ServingSettings

        settings = ServingSettings(
            model_uri=self.bundle_root, prediction_log_uri=None, retry_seconds=0
        )
        with lambda_handler.serving(PricingService(settings)):
            response = lambda_handler.handler(predict_event(listings), None)
        return http_answer(response, "the in-process handler")


class HttpEndpoint:
    """A deployed API (API Gateway stage, Function URL, container) called over HTTPS.

    ``base_url`` is the API root (``https://id.execute-api.region.amazonaws.com/prod``);
    ``api_key`` goes in ``x-api-key`` (API Gateway usage plans).
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = base_url.rstrip("/") + "/predict"
        self.api_key = api_key
        self.timeout = timeout
        self.description = f"POST {self.url}"

    def predict(self, listings: list[dict[str, Any]]) -> EndpointAnswer:
        """POST the batch; a network failure is an answer with status 0 and the error."""
        headers = {"content-type": "application/json", "user-agent": "bh-pricing-smoke"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        request = urllib.request.Request(
            self.url, data=json.dumps(listings).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _answer(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return _answer(exc.code, exc.read().decode(errors="replace"))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return EndpointAnswer(0, {}, f"no answer from {self.url}: {exc}")


@cache
def _function_name_pattern() -> re.Pattern[str]:
    """The ``FunctionName`` pattern of Lambda's ``Invoke``, from botocore's service model."""
    model = botocore.session.get_session().get_service_model("lambda")
    shape = model.operation_model("Invoke").input_shape.members["FunctionName"]
    return re.compile(shape.metadata["pattern"])


def lambda_function_name(value: str) -> str:
    """``value`` if Lambda's ``Invoke`` takes it as ``FunctionName``, else ValueError.

    Accepted (AWS Lambda API reference, ``Invoke``): a name (``bh-pricing-serving``), a full ARN
    (``arn:aws:lambda:sa-east-1:123456789012:function:bh-pricing-serving``) or a partial ARN
    (``123456789012:function:bh-pricing-serving``), each optionally ending in ``:<version or
    alias>`` (``bh-pricing-serving:live``).
    """
    if not _function_name_pattern().fullmatch(value):
        raise ValueError(
            f"BH_PRICING_SMOKE_LAMBDA={value!r} is not a Lambda function name or ARN "
            "(expected e.g. 'bh-pricing-serving', 'bh-pricing-serving:live' or "
            "'arn:aws:lambda:<region>:<account>:function:bh-pricing-serving[:alias]')"
        )
    return value


def lambda_client(timeout: float) -> Any:
    """A boto3 Lambda client from the standard AWS chain, reading for at most ``timeout`` seconds.

    Region: ``AWS_REGION`` when set (the Lambda and ECS runtimes set it; it overrides
    ``AWS_DEFAULT_REGION`` as in the AWS CLI, while botocore reads only the latter), else boto3's
    own chain (``AWS_DEFAULT_REGION``, the profile). Throttled calls are retried (standard retry
    mode). Raises botocore's ``NoRegionError`` when no region is configured.
    """
    return boto3.client(
        "lambda",
        region_name=os.environ.get("AWS_REGION") or None,
        config=Config(read_timeout=timeout, retries={"mode": "standard"}),
    )


class LambdaEndpoint:
    """The deployed function, invoked directly (``lambda.invoke``, ``RequestResponse``).

    It receives ``predict_event``, the event API Gateway's HTTP API sends for ``POST /predict``,
    and its Mangum response is read by ``http_answer``. ``function`` is passed as ``FunctionName``
    unchanged (see ``lambda_function_name``): a ``:<alias>`` suffix is the qualifier. Without
    ``client``, each call builds one with ``lambda_client`` (standard AWS chain: region,
    credentials, ``AWS_ENDPOINT_URL_LAMBDA``).
    """

    def __init__(self, function: str, timeout: float = 30.0, client: Any = None) -> None:
        self.function = lambda_function_name(function)
        self.timeout = timeout
        self.client = client
        self.description = f"Lambda {function} (invoke)"

    def predict(self, listings: list[dict[str, Any]]) -> EndpointAnswer:
        """Invoke the function with the batch; every failure is status 0 naming the function.

        Failures: an AWS error (``AccessDeniedException``, ``TooManyRequestsException``,
        ``ResourceNotFoundException``...: its code and message), no answer (no region, no
        credentials, a timeout), an error in the function (``FunctionError`` and its payload), a
        payload that is not a proxy response.
        """
        name = f"Lambda {self.function}"
        try:
            client = self.client or lambda_client(self.timeout)
            response = client.invoke(
                FunctionName=self.function,
                InvocationType="RequestResponse",
                Payload=json.dumps(predict_event(listings)).encode(),
            )
            payload = response["Payload"].read().decode(errors="replace")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "unknown"), error.get("Message", "")
            return EndpointAnswer(0, {}, f"{name} could not be invoked: {code}: {message}")
        except BotoCoreError as exc:
            return EndpointAnswer(0, {}, f"no answer from {name}: {exc}")
        if response.get("FunctionError"):
            kind = response["FunctionError"]
            return EndpointAnswer(0, {}, f"{name} failed ({kind}): {payload[:ERROR_TEXT]}")
        if response.get("StatusCode") != 200:
            status = response.get("StatusCode")
            return EndpointAnswer(0, {}, f"{name} answered invoke status {status}, not 200")
        try:
            proxy = json.loads(payload)
        except json.JSONDecodeError:
            return EndpointAnswer(0, {}, f"{name} returned no JSON: {payload[:ERROR_TEXT]!r}")
        return http_answer(proxy, name)
