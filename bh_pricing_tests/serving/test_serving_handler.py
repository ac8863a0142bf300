"""The Lambda handler on realistic API Gateway v1/v2, Function URL and ALB events: routes, stages,
inputs, errors, 503, intervals; warmers and scheduled pings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bh_pricing.serving import lambda_handler
from bh_pricing.serving.api import render_openapi
from bh_pricing.serving.schemas import MAX_BATCH
from bh_pricing.serving.service import PricingService, ServingSettings

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "bh_pricing" / "serving" / "openapi.json"


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize("base64_body", [False, True])
@pytest.mark.parametrize("payload", ["v1", "v2"])
def test_predict_single_listing(
    payload: str, base64_body: bool, savassi: dict, v1_event: Any, v2_event: Any, invoke: Any
) -> None:
    make = v1_event if payload == "v1" else v2_event
    status, body = invoke(make("POST", "/predict", savassi, base64_body=base64_body))
    assert status == 200, body
    assert 100_000 < body["price"] < 5_000_000
    assert body["currency"] == "BRL"
    assert body["model_version"] == "7"
    assert body["request_id"]
    assert "warnings" not in body
    interval = body["interval"]
    assert interval["level"] == 0.8
    assert interval["low"] == pytest.approx(body["price"] / 1.25, abs=0.02)
    assert interval["high"] == pytest.approx(body["price"] * 1.25, abs=0.02)


def test_package_attribute_is_the_callable_entry_point(
    service: PricingService, savassi: dict, v1_event: Any
) -> None:
    from bh_pricing.serving import handler

    assert callable(handler)
    response = handler(v1_event("POST", "/predict", savassi), None)
    assert response["statusCode"] == 200, response


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize("stage", ["prod", "pre", "predict", "v1"])
@pytest.mark.parametrize("stage_in_path", [True, False])
def test_v2_stage_is_a_path_segment(
    stage: str, stage_in_path: bool, savassi: dict, v2_event: Any, invoke: Any
) -> None:
    # given an HTTP API stage, in the path (execute-api) or not (custom domain mapped to it)
    event = v2_event("POST", "/predict", savassi, stage=stage, stage_in_path=stage_in_path)
    # then /predict is reached, never "/dict" (the stage cut as a string prefix)
    status, body = invoke(event)
    assert status == 200, body
    status, health = invoke(v2_event("GET", "/health", stage=stage, stage_in_path=stage_in_path))
    assert (status, health["status"]) == (200, "ok")


@pytest.mark.usefixtures("service")
def test_a_path_that_only_starts_like_the_stage_is_not_cut(v2_event: Any, invoke: Any) -> None:
    event = v2_event("GET", "/prefixed", stage="pre", stage_in_path=False)
    status, body = invoke(event)
    assert status == 404
    assert body["error"] == "no route /prefixed"


@pytest.mark.parametrize("base_path", ["/pricing", "pricing/", "/api/v1"])
def test_custom_domain_base_path_routes_with_and_without_it(
    base_path: str, bundle_root: str, savassi: dict, v1_event: Any, v2_event: Any, invoke: Any
) -> None:
    # given a custom domain mapping the API under a base path
    settings = ServingSettings(bundle_root, None, retry_seconds=0, base_path=base_path)
    lambda_handler.reset_service(PricingService(settings))
    prefix = "/" + base_path.strip("/")
    try:
        for path in (f"{prefix}/predict", "/predict"):
            assert invoke(v1_event("POST", path, savassi))[0] == 200, path
            assert invoke(v2_event("POST", path, savassi, stage="prod"))[0] == 200, path
        # a path merely starting with the same letters is not the base path
        assert invoke(v1_event("POST", f"{prefix}x/predict", savassi))[0] == 404
    finally:
        lambda_handler.reset_service(None)


@pytest.mark.usefixtures("service")
def test_function_url_and_alb_events(
    savassi: dict, function_url_event: Any, alb_event: Any, invoke: Any
) -> None:
    for make in (function_url_event, alb_event):
        status, body = invoke(make("POST", "/predict", savassi))
        assert status == 200, body
        assert body["interval"]["low"] < body["price"] < body["interval"]["high"]
        status, body = invoke(make("GET", "/nope"))
        assert status == 404
        assert body["request_id"]


@pytest.mark.parametrize(
    "event",
    [
        {"source": "serverless-plugin-warmup"},
        {},
        {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-30T00:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bh-pricing-warmer"],
            "detail": {},
        },
        {"Records": [{"eventSource": "aws:s3"}]},
    ],
)
def test_non_http_invocations_load_the_model_and_succeed(
    event: dict, bundle_root: str, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    # given a cold container
    service = PricingService(ServingSettings(bundle_root, None, retry_seconds=0))
    lambda_handler.reset_service(service)
    try:
        # when a warmer or a schedule invokes it
        answer = lambda_handler.handler(event, None)
        # then the model is loaded and the answer is a status, not an HTTP error
        assert answer["status"] == "ok", answer
        assert "statusCode" not in answer
        assert answer["model"]["loaded"] is True
        assert service.models.model is not None
        assert invoke(v1_event("POST", "/predict", savassi))[0] == 200
    finally:
        lambda_handler.reset_service(None)


def test_warmer_without_a_bundle_reports_unavailable(tmp_path: Path) -> None:
    lambda_handler.reset_service(PricingService(ServingSettings(str(tmp_path), None)))
    try:
        answer = lambda_handler.handler({"source": "serverless-plugin-warmup"}, None)
    finally:
        lambda_handler.reset_service(None)
    assert answer["status"] == "unavailable"
    assert "model bundle unavailable" in answer["model"]["error"]


@pytest.mark.usefixtures("service")
def test_raw_kaggle_names_and_numeric_strings_price_like_clean_names(
    kaggle_row: dict, v1_event: Any, invoke: Any
) -> None:
    clean = {
        "neighborhood": "Funcionários",
        "square_foot": 102.0,
        "rooms": 3,
        "garage_places": 0,
        "adm_fees": 950.0,
        "latitude": -19.935,
        "longitude": -43.929,
    }
    status, raw_body = invoke(v1_event("POST", "/predict", kaggle_row, base64_body=True))
    assert status == 200, raw_body
    _, clean_body = invoke(v1_event("POST", "/predict", clean))
    assert raw_body["price"] == clean_body["price"]


@pytest.mark.usefixtures("service")
def test_batch_with_unknown_neighborhood_and_missing_coordinates(
    savassi: dict, v2_event: Any, invoke: Any
) -> None:
    unknown = savassi | {"neighborhood": "Bairro Que Não Existe"}
    no_coordinates = {k: v for k, v in savassi.items() if k not in ("latitude", "longitude")}
    null_coordinates = savassi | {"latitude": None, "longitude": None}
    batch = [savassi, unknown, no_coordinates, null_coordinates]
    status, body = invoke(v2_event("POST", "/predict", batch))
    assert status == 200, body
    assert body["count"] == 4
    assert all(p > 0 for p in body["prices"])
    assert body["prices"][2] == body["prices"][3]
    assert any(w.startswith("[1].neighborhood") for w in body["warnings"])
    assert any(w.startswith("[2].latitude/longitude") for w in body["warnings"])


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize(
    ("change", "status", "field", "problem"),
    [
        ({"square_foot": -10}, 422, "square_foot", "out of range [10, 1000]: -10"),
        ({"square_foot": 1e9}, 422, "square_foot", "out of range [10, 1000]"),
        ({"rooms": "three"}, 422, "rooms", "unparseable value 'three'"),
        ({"rooms": True}, 422, "rooms", "unparseable value True"),
        ({"rooms": "9"}, 422, "rooms", "out of range [1, 6]: 9"),
        ({"garage_places": 7}, 422, "garage_places", "out of range [0, 6]: 7"),
        ({"neighborhood": 42}, 422, "neighborhood", "valid string"),
        ({"neighborhood": "   "}, 422, "neighborhood", "missing (blank)"),
        ({"neighborhood": "NULL"}, 422, "neighborhood", "missing (NULL)"),
        ({"sqft": 90}, 422, "sqft", "Extra inputs"),
        ({"square_foot": None}, 422, "square_foot", "missing (blank)"),
    ],
)
def test_bad_field_is_named_with_its_problem(
    change: dict, status: int, field: str, problem: str, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    got, body = invoke(v1_event("POST", "/predict", savassi | change))
    assert got == status, body
    assert any(d["field"] == field and problem in d["problem"] for d in body["details"]), body
    assert body["request_id"]


@pytest.mark.usefixtures("service")
def test_missing_required_field(savassi: dict, v1_event: Any, invoke: Any) -> None:
    listing = {k: v for k, v in savassi.items() if k != "rooms"}
    status, body = invoke(v1_event("POST", "/predict", listing))
    assert status == 422
    assert body["details"] == [{"field": "rooms", "problem": "Field required"}]


@pytest.mark.usefixtures("service")
def test_batch_errors_name_the_item(savassi: dict, v1_event: Any, invoke: Any) -> None:
    status, body = invoke(v1_event("POST", "/predict", [savassi, savassi | {"rooms": -1}]))
    assert status == 422
    assert body["details"][0]["field"] == "[1].rooms"


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ('{"neighborhood": "Savassi",', 400, "malformed JSON"),
        ("", 400, "empty body"),
        ("[]", 422, "empty batch"),
        ('"a string"', 422, "invalid body"),
        ("[1, 2]", 422, "invalid listing(s)"),
        ("NaN", 422, "invalid body"),
    ],
)
def test_malformed_bodies_are_4xx(
    body: str, status: int, error: str, v1_event: Any, invoke: Any
) -> None:
    got, answer = invoke(v1_event("POST", "/predict", body, raw=True))
    assert (got, answer["error"]) == (status, error)


@pytest.mark.usefixtures("service")
def test_oversize_batch_is_413(savassi: dict, v2_event: Any, invoke: Any) -> None:
    status, body = invoke(v2_event("POST", "/predict", [savassi] * (MAX_BATCH + 1)))
    assert status == 413
    assert f"at most {MAX_BATCH}" in body["details"][0]["problem"]


@pytest.mark.usefixtures("service")
def test_full_batch_is_accepted(savassi: dict, v2_event: Any, invoke: Any) -> None:
    status, body = invoke(v2_event("POST", "/predict", [savassi] * MAX_BATCH))
    assert status == 200
    assert body["count"] == MAX_BATCH


@pytest.mark.usefixtures("service")
def test_bad_base64_is_400(v1_event: Any, invoke: Any) -> None:
    event = v1_event("POST", "/predict", "not base64 !!", raw=True)
    event["isBase64Encoded"] = True
    status, body = invoke(event)
    assert status == 400
    assert body["details"][0]["field"] == "event"


@pytest.mark.usefixtures("service")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("GET", "/predict", 405), ("DELETE", "/health", 405)],
)
def test_unknown_routes_and_methods(
    method: str, path: str, status: int, v1_event: Any, invoke: Any
) -> None:
    got, body = invoke(v1_event(method, path))
    assert got == status
    assert body["details"][0]["field"] in ("path", "method")
    assert body["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


@pytest.mark.usefixtures("service")
def test_http_event_missing_its_method_is_400(v2_event: Any, invoke: Any) -> None:
    event = v2_event("GET", "/health")
    del event["requestContext"]["http"]
    status, body = invoke(event)
    assert status == 400
    assert body["details"][0]["field"] == "event"


@pytest.mark.usefixtures("service")
def test_health_model_and_openapi(v2_event: Any, invoke: Any) -> None:
    status, health = invoke(v2_event("GET", "/health"))
    assert status == 200
    assert health["status"] == "ok"
    assert health["model"]["model_version"] == "7"
    assert health["prediction_log"]["write_failures"] == 0
    status, model = invoke(v2_event("GET", "/model"))
    assert status == 200
    assert (model["run_id"], model["test_metrics"]["mape"]) == ("0123abcd", 0.12)
    assert model["estimator"] == "TransformedTargetRegressor(HistGradientBoostingRegressor)"
    assert model["prediction_interval"]["level"] == 0.8
    status, spec = invoke(v2_event("GET", "/openapi.json"))
    assert status == 200
    assert {"/predict", "/health", "/model"} <= set(spec["paths"])
    predict = spec["paths"]["/predict"]["post"]
    assert {"200", "400", "413", "422", "503"} <= set(predict["responses"])
    assert "Listing" in spec["components"]["schemas"]
    assert "PriceInterval" in spec["components"]["schemas"]


def test_openapi_file_is_up_to_date() -> None:
    assert OPENAPI_FILE.read_text() == render_openapi(), "run: python -m bh_pricing.serving.api"


def test_missing_model_is_503_then_recovers(
    bundle_root: str, tmp_path: Path, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    # given a container started before any bundle was published
    root = tmp_path / "models"
    lambda_handler.reset_service(PricingService(ServingSettings(str(root), None, retry_seconds=0)))
    try:
        status, body = invoke(v1_event("POST", "/predict", savassi))
        assert status == 503
        assert "model bundle unavailable" in body["error"]
        assert invoke(v1_event("GET", "/health"))[0] == 503
        # when the bundle appears, then a later request loads it without a restart
        root.symlink_to(bundle_root, target_is_directory=True)
        status, body = invoke(v1_event("POST", "/predict", savassi))
        assert status == 200, body
    finally:
        lambda_handler.reset_service(None)


def test_unset_model_uri_is_503(
    monkeypatch: pytest.MonkeyPatch, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    monkeypatch.delenv("BH_PRICING_MODEL_URI", raising=False)
    lambda_handler.reset_service(None)
    try:
        status, body = invoke(v1_event("POST", "/predict", savassi))
    finally:
        lambda_handler.reset_service(None)
    assert status == 503
    assert "BH_PRICING_MODEL_URI is not set" in body["error"]


def test_corrupt_model_is_503(
    tmp_path: Path, savassi: dict, v1_event: Any, invoke: Any, bundle_root: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    manifest = json.loads(next(Path(bundle_root).glob("*/manifest.json")).read_text())
    garbage = b"not an onnx model"
    manifest["files"]["model.onnx"] = {
        "sha256": hashlib.sha256(garbage).hexdigest(),
        "bytes": len(garbage),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "model.onnx").write_bytes(garbage)
    lambda_handler.reset_service(
        PricingService(ServingSettings(str(folder), None, retry_seconds=0))
    )
    try:
        status, body = invoke(v1_event("POST", "/predict", savassi))
    finally:
        lambda_handler.reset_service(None)
    assert status == 503
    assert "onnxruntime cannot load it" in body["error"]
