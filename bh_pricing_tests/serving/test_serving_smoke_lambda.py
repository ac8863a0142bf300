"""Smoke test through the deployed function (``LambdaEndpoint``, BH_PRICING_SMOKE_LAMBDA) on a real
boto3 Lambda client whose ``invoke`` is stubbed (``botocore.stub.Stubber``; invoking a function in
moto needs Docker): the function gets the HTTP API event the real handler accepts, its proxy
response is read like the handler's, and every failure (AWS error, function error, non-2xx, wrong
prices) fails the smoke test and puts the previous ``current.json`` back."""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from bh_pricing.serving import lambda_handler
from bh_pricing.serving.manifest import CurrentPointer
from bh_pricing.serving.runtime import load_bundle, read_current
from bh_pricing.serving.service import PricingService, ServingSettings
from bh_pricing.serving.smoke import smoke_test
from bh_pricing.serving.smoke_endpoints import LambdaEndpoint, lambda_client, lambda_function_name

FUNCTION = "bh-pricing-serving:live"
ARN = "arn:aws:lambda:sa-east-1:123456789012:function:bh-pricing-serving"
Published = tuple[str, CurrentPointer, CurrentPointer]


@pytest.fixture
def client() -> Any:
    """A real boto3 Lambda client (fake credentials; every call goes through a Stubber)."""
    return boto3.client(
        "lambda",
        region_name="sa-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _payload(value: Any) -> StreamingBody:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def _proxy(status: int, body: Any, *, base64_body: bool = False) -> dict[str, Any]:
    """A proxy response as Mangum returns it."""
    text = json.dumps(body)
    if base64_body:
        text = base64.b64encode(text.encode()).decode()
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": text,
        "isBase64Encoded": base64_body,
    }


def _invoke_params(function: str = FUNCTION) -> dict[str, Any]:
    return {"FunctionName": function, "InvocationType": "RequestResponse", "Payload": ANY}


def _respond(stubber: Stubber, payload: Any, function: str = FUNCTION, **extra: Any) -> None:
    response = {"StatusCode": 200, "ExecutedVersion": "3", "Payload": _payload(payload), **extra}
    stubber.add_response("invoke", response, _invoke_params(function))


def _expected(published: Published, rows: list[dict[str, Any]]) -> np.ndarray:
    root, _, current = published
    return load_bundle(str(Path(root) / current.bundle)).predict_records(rows)


def _prices(published: Published, rows: list[dict[str, Any]], factor: float = 1.0) -> dict:
    return {"model_version": "7", "prices": list(_expected(published, rows) * factor)}


def test_invoked_function_runs_the_real_handler_on_the_event_and_passes(
    published: Published, rows: list[dict[str, Any]], client: Any, stubber: Stubber
) -> None:
    # given a function that runs the real handler, on the published root, on what it receives
    root, previous, current = published
    received: list[dict[str, Any]] = []

    def run_handler(params: dict[str, Any], **_: Any) -> None:
        event = json.loads(params["Payload"])
        received.append(event)
        service = PricingService(ServingSettings(model_uri=root, prediction_log_uri=None))
        with lambda_handler.serving(service):
            response = lambda_handler.handler(event, None)
        _respond(stubber, response)

    client.meta.events.register("provide-client-params.lambda.Invoke", run_handler)
    # when the smoke test invokes it
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    # then the handler took the event for POST /predict and answered like the bundle
    (event,) = received
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"]) == rows
    assert outcome.report.passed, outcome.report.reason
    assert outcome.report.status == 200
    assert outcome.report.served_version == "7"
    assert outcome.rollback == "none needed"
    assert read_current(root) == current


@pytest.mark.parametrize("base64_body", [False, True], ids=["plain", "base64"])
def test_matching_answer_passes(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    base64_body: bool,
) -> None:
    root, previous, current = published
    _respond(stubber, _proxy(200, _prices(published, rows), base64_body=base64_body))
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert outcome.report.passed, outcome.report.reason
    assert read_current(root) == current


@pytest.mark.parametrize("factor", [1.01, 0.95], ids=["1pct-high", "5pct-low"])
def test_prices_off_fail_and_restore_the_previous_pointer(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    factor: float,
) -> None:
    root, previous, current = published
    _respond(stubber, _proxy(200, _prices(published, rows, factor)))
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert not outcome.report.passed
    assert "exceeds" in outcome.report.reason
    assert outcome.report.max_relative_error == pytest.approx(abs(factor - 1))
    assert read_current(root) == previous, "previous current.json restored"
    assert f"restored to {previous.bundle} (v6)" in outcome.rollback


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "Unhandled",
            {"errorMessage": "No module named 'onnxruntime'", "errorType": "ImportModuleError"},
            "No module named 'onnxruntime'",
        ),
        (
            "Unhandled",
            {"errorMessage": "Task timed out after 15.00 seconds", "errorType": "Sandbox.Timedout"},
            "Sandbox.Timedout",
        ),
        ("Handled", b"not json at all", "not json at all"),
    ],
)
def test_function_error_fails_naming_the_function_and_its_error(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    kind: str,
    payload: Any,
    expected: str,
) -> None:
    root, previous, current = published
    _respond(stubber, payload, FunctionError=kind)
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == 0
    assert f"Lambda {FUNCTION} failed ({kind})" in outcome.report.reason
    assert expected in outcome.report.reason
    assert read_current(root) == previous


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 403),
        ("TooManyRequestsException", 429),
        ("ResourceNotFoundException", 404),
        ("ServiceException", 500),
    ],
)
def test_aws_errors_fail_naming_the_function_and_the_code(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    code: str,
    status: int,
) -> None:
    root, previous, current = published
    stubber.add_client_error(
        "invoke",
        service_error_code=code,
        service_message=f"{code} for the test",
        http_status_code=status,
        expected_params=_invoke_params(),
    )
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == 0
    assert f"Lambda {FUNCTION} could not be invoked: {code}" in outcome.report.reason
    assert read_current(root) == previous


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, {"error": "model bundle unavailable"}, "answered 503: model bundle unavailable"),
        (422, {"error": "invalid listing"}, "answered 422: invalid listing"),
        (404, {"detail": "Not Found"}, "answered 404"),
    ],
)
def test_non_2xx_api_response_fails(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    status: int,
    body: dict[str, Any],
    expected: str,
) -> None:
    root, previous, current = published
    _respond(stubber, _proxy(status, body))
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == status
    assert expected in outcome.report.reason
    assert read_current(root) == previous


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"status": "ok", "source": "unknown", "model": {}}, "no HTTP response"),
        ({"statusCode": "200", "body": "{}"}, "no HTTP response"),
        ({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, "bad base64 body"),
        ({"statusCode": 200, "body": "<html>"}, "body is not JSON"),
        (b"\x00\x01", "returned no JSON"),
    ],
    ids=["warmer-status", "string-status", "bad-base64", "html-body", "binary-payload"],
)
def test_payload_that_is_no_proxy_response_fails(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    payload: Any,
    expected: str,
) -> None:
    root, previous, current = published
    _respond(stubber, payload)
    outcome = smoke_test(LambdaEndpoint(FUNCTION, client=client), root, current, previous, rows)
    assert not outcome.report.passed
    assert expected in outcome.report.reason
    assert read_current(root) == previous


@pytest.mark.parametrize(
    "function",
    [
        "bh-pricing-serving",
        "bh-pricing-serving:live",
        "bh-pricing-serving:12",
        "bh-pricing-serving:$LATEST",
        ARN,
        f"{ARN}:live",
        "123456789012:function:bh-pricing-serving:live",
    ],
)
def test_function_name_and_qualifier_reach_invoke_unchanged(
    published: Published,
    rows: list[dict[str, Any]],
    client: Any,
    stubber: Stubber,
    function: str,
) -> None:
    root, previous, current = published
    _respond(stubber, _proxy(200, _prices(published, rows)), function)
    endpoint = LambdaEndpoint(function, client=client)
    assert endpoint.description == f"Lambda {function} (invoke)"
    assert smoke_test(endpoint, root, current, previous, rows).report.passed


@pytest.mark.parametrize(
    "value", ["", "bh pricing", "name:alias:extra", "name:", "https://example.com/predict"]
)
def test_values_invoke_would_reject_are_refused_up_front(value: str) -> None:
    with pytest.raises(ValueError, match=r"BH_PRICING_SMOKE_LAMBDA=.* is not a Lambda function"):
        lambda_function_name(value)
    with pytest.raises(ValueError, match="is not a Lambda function"):
        LambdaEndpoint(value)


def _clear_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_without_a_region_the_check_fails_and_calls_nothing_else(
    published: Published,
    rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root, previous, current = published
    _clear_aws_config(monkeypatch, tmp_path)
    outcome = smoke_test(LambdaEndpoint(FUNCTION), root, current, previous, rows)
    assert not outcome.report.passed
    assert f"no answer from Lambda {FUNCTION}" in outcome.report.reason
    assert "region" in outcome.report.reason
    assert read_current(root) == previous


def test_client_follows_the_standard_aws_environment(
    published: Published,
    rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # given the region and a Lambda endpoint (a closed loopback port) from the environment
    root, previous, current = published
    _clear_aws_config(monkeypatch, tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{port}")
    # when the smoke test invokes the function
    outcome = smoke_test(LambdaEndpoint(FUNCTION, timeout=5), root, current, previous, rows)
    # then boto3 called that endpoint, got no answer, and the check failed with a rollback
    assert not outcome.report.passed
    assert f"no answer from Lambda {FUNCTION}" in outcome.report.reason
    assert f"127.0.0.1:{port}" in outcome.report.reason
    assert read_current(root) == previous


@pytest.mark.parametrize(
    ("region", "default_region", "expected"),
    [
        ("sa-east-1", "us-east-1", "sa-east-1"),
        (None, "us-east-1", "us-east-1"),
        ("eu-west-1", None, "eu-west-1"),
    ],
)
def test_region_comes_from_aws_region_then_aws_default_region(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    region: str | None,
    default_region: str | None,
    expected: str,
) -> None:
    _clear_aws_config(monkeypatch, tmp_path)
    for name, value in (("AWS_REGION", region), ("AWS_DEFAULT_REGION", default_region)):
        if value is not None:
            monkeypatch.setenv(name, value)
    assert lambda_client(5).meta.region_name == expected
