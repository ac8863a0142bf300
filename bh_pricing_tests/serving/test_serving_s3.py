"""Bundles and the prediction log on S3 (moto): export, publish, load through the handler, read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from bh_pricing.io import storage
from bh_pricing.serving import lambda_handler
from bh_pricing.serving.log_reader import read_prediction_log
from bh_pricing.serving.runtime import read_current
from bh_pricing.serving.service import PricingService, ServingSettings

BUCKET = "bh-pricing-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A mocked S3 with one bucket; the runtime's cached client is reset around the test."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        storage.reset_s3_client()
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client
    storage.reset_s3_client()
    lambda_handler.reset_service(None)


def test_bundle_on_s3_serves_and_logs_to_s3(
    s3: Any,
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    savassi: dict,
    kaggle_row: dict,
    v1_event: Any,
    invoke: Any,
) -> None:
    # given a champion exported and published to S3
    root = f"s3://{BUCKET}/serving"
    exported = export(fitted["gradient_boosting"], root, listings)
    assert exported.uri.startswith(f"s3://{BUCKET}/serving/v7-")
    pointer = read_current(root)
    assert pointer is not None
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert f"serving/{pointer.bundle}/model.onnx" in keys
    # when a Lambda container serves it with the log on S3
    log_uri = f"s3://{BUCKET}/prediction-log"
    settings = ServingSettings(root, log_uri, retry_seconds=0, log_max_records=1)
    lambda_handler.reset_service(PricingService(settings))
    status, body = invoke(v1_event("POST", "/predict", [savassi, kaggle_row], base64_body=True))
    # then it prices and the log can be read back from S3
    assert status == 200, body
    frame = read_prediction_log(log_uri)
    assert len(frame) == 2
    assert frame["request_id"].unique().tolist() == [body["request_id"]]
    assert frame["prediction"].round(2).tolist() == body["prices"]


def test_missing_s3_bundle_is_503(s3: Any, savassi: dict, v2_event: Any, invoke: Any) -> None:
    root = f"s3://{BUCKET}/nothing"
    lambda_handler.reset_service(PricingService(ServingSettings(root, None, retry_seconds=0)))
    status, body = invoke(v2_event("POST", "/predict", savassi))
    assert status == 503
    assert f"{root}/manifest.json: no such object" in body["error"]


def test_log_write_to_missing_bucket_does_not_fail_the_request(
    s3: Any, bundle_root: str, savassi: dict, v2_event: Any, invoke: Any
) -> None:
    log_uri = "s3://no-such-bucket/log"
    service = PricingService(
        ServingSettings(bundle_root, log_uri, retry_seconds=0, log_max_records=1)
    )
    lambda_handler.reset_service(service)
    status, _ = invoke(v2_event("POST", "/predict", savassi))
    assert status == 200
    assert service.log.stats.write_failures == 1
    assert "no-such-bucket" in (service.log.stats.last_error or "")
