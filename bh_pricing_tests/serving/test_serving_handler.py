"""The Lambda handler on realistic API Gateway v1 and v2 events: routes, inputs, errors, 503."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bh_pricing.serving import handler as handler_module
from bh_pricing.serving.api import App, ServingSettings
from bh_pricing.serving.openapi import OPENAPI_FILE, render
from bh_pricing.serving.schemas import MAX_BATCH


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
def test_v2_named_stage_is_stripped(savassi: dict, v2_event: Any, invoke: Any) -> None:
    status, body = invoke(v2_event("POST", "/predict", savassi, stage="prod"))
    assert status == 200, body


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
def test_missing_required_field(savassi: dict, v1_event: Any, invoke: Any) -> None:
    listing = {k: v for k, v in savassi.items() if k != "rooms"}
    status, body = invoke(v1_event("POST", "/predict", listing))
    assert status == 422
    assert body["details"] == [{"field": "rooms", "problem": "Field required"}]


@pytest.mark.usefixtures("app")
def test_batch_errors_name_the_item(savassi: dict, v1_event: Any, invoke: Any) -> None:
    status, body = invoke(v1_event("POST", "/predict", [savassi, savassi | {"rooms": -1}]))
    assert status == 422
    assert body["details"][0]["field"] == "[1].rooms"


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
def test_oversize_batch_is_413(savassi: dict, v2_event: Any, invoke: Any) -> None:
    status, body = invoke(v2_event("POST", "/predict", [savassi] * (MAX_BATCH + 1)))
    assert status == 413
    assert f"at most {MAX_BATCH}" in body["details"][0]["problem"]


@pytest.mark.usefixtures("app")
def test_full_batch_is_accepted(savassi: dict, v2_event: Any, invoke: Any) -> None:
    status, body = invoke(v2_event("POST", "/predict", [savassi] * MAX_BATCH))
    assert status == 200
    assert body["count"] == MAX_BATCH


@pytest.mark.usefixtures("app")
def test_bad_base64_is_400(v1_event: Any, invoke: Any) -> None:
    event = v1_event("POST", "/predict", "not base64 !!", raw=True)
    event["isBase64Encoded"] = True
    status, body = invoke(event)
    assert status == 400
    assert body["details"][0]["field"] == "event"


@pytest.mark.usefixtures("app")
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


@pytest.mark.usefixtures("app")
def test_not_a_proxy_event_is_400(invoke: Any) -> None:
    status, body = invoke({"hello": "world"})
    assert status == 400
    assert "method or path" in body["details"][0]["problem"]


@pytest.mark.usefixtures("app")
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
    status, spec = invoke(v2_event("GET", "/openapi.json"))
    assert status == 200
    assert set(spec["paths"]) == {"/predict", "/health", "/model", "/openapi.json"}


def test_openapi_file_is_up_to_date() -> None:
    assert OPENAPI_FILE.read_text() == render(), "run: python -m bh_pricing.serving.openapi"


def test_missing_model_is_503_then_recovers(
    bundle_root: str, tmp_path: Path, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    # given a container started before any bundle was published
    root = tmp_path / "models"
    handler_module.reset_app(App(ServingSettings(str(root), None, retry_seconds=0)))
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
        handler_module.reset_app(None)


def test_unset_model_uri_is_503(
    monkeypatch: pytest.MonkeyPatch, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    monkeypatch.delenv("BH_PRICING_MODEL_URI", raising=False)
    handler_module.reset_app(None)
    try:
        status, body = invoke(v1_event("POST", "/predict", savassi))
    finally:
        handler_module.reset_app(None)
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
    handler_module.reset_app(App(ServingSettings(str(folder), None, retry_seconds=0)))
    try:
        status, body = invoke(v1_event("POST", "/predict", savassi))
    finally:
        handler_module.reset_app(None)
    assert status == 503
    assert "onnxruntime cannot load it" in body["error"]
