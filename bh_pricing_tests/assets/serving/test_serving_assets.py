"""serving_bundle and prediction_log materialized in-process after the graph (sample source)."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import mlflow
import pandas as pd
import pytest

from bh_pricing.assets import serving
from bh_pricing.constants import CHAMPION_URI, FEATURE_COLUMNS
from bh_pricing.resources import RawListingsSource, ServingEndpoint, build_resources
from bh_pricing.serving import handler, lambda_handler
from bh_pricing.serving.manifest import CURRENT_FILE
from bh_pricing.serving.runtime import ServedModel
from bh_pricing_tests.assets.test_graph import FAST, GRAPH, UNPARTITIONED

ASSETS = [*GRAPH, *serving.defs.assets, *serving.defs.asset_checks]
LISTING = {
    "neighborhood": "Lourdes",
    "square_foot": 120.0,
    "rooms": 3.0,
    "garage_places": 2.0,
    "adm_fees": 900.0,
    "latitude": -19.932,
    "longitude": -43.944,
}


def _materialize(
    selection: str | dg.AssetSelection,
    run_config: dict | None = None,
    overrides: dict[str, Any] | None = None,
    **kwargs: Any,
):
    resources = build_resources("local")
    resources["raw_source"] = RawListingsSource(sample_rows=600, sample_seed=5)
    resources |= overrides or {}
    return dg.materialize(
        ASSETS, resources=resources, selection=selection, run_config=run_config or {}, **kwargs
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _parity(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == serving.BUNDLE_PARITY
    ]
    return evaluation


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh BH_PRICING_HOME for the whole module (local resources, no services)."""
    home = tmp_path_factory.mktemp("serving_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        patch.setenv("BH_PRICING_ENV", "local")
        for name in (
            "MLFLOW_TRACKING_URI",
            "BH_PRICING_ARTIFACTS_URI",
            "BH_PRICING_PREDICTION_LOG_URI",
        ):
            patch.delenv(name, raising=False)
        yield home


@pytest.fixture(scope="module")
def first_run(home: Path) -> dg.ExecuteInProcessResult:
    """The whole graph, then the serving group, in one in-process run."""
    result = _materialize(UNPARTITIONED, FAST)
    assert result.success
    return result


@pytest.fixture
def served_by_handler() -> Iterator[None]:
    """The handler's app is rebuilt from the environment for the test, and dropped after it."""
    lambda_handler.reset_service(None)
    yield
    lambda_handler.reset_service(None)


def test_bundle_is_published_under_the_artifact_store(home: Path, first_run) -> None:
    meta = _metadata(first_run, "serving_bundle")
    champion = _metadata(first_run, "champion_model")
    bundles = home / "artifacts" / "bundles"
    assert Path(meta["uri"]).parent == bundles, "bundle folders live in Locations.bundles_uri()"
    assert meta["published"] is True
    assert meta["model_version"] == str(champion["version"])
    assert meta["run_id"] == champion["mlflow_run_id"]
    assert len(meta["model_sha256"]) == len(meta["manifest_sha256"]) == 64
    assert meta["size_bytes"] > 1000
    pointer = json.loads((bundles / CURRENT_FILE).read_text())
    assert bundles / pointer["bundle"] == Path(meta["uri"]), "current.json points at the bundle"


def test_parity_check_passes_within_a_tenth_of_a_percent(first_run) -> None:
    evaluation = _parity(first_run)
    assert evaluation.passed
    assert evaluation.blocking is True
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta["parity_rows"] == len(first_run.output_for_node("train_test", "test_listings"))
    assert meta["parity_max_relative_error"] <= meta["parity_tolerance"] == 1e-3


def test_endpoint_smoke_passes_after_publication(home: Path, first_run) -> None:
    # given the graph materialized once (the bundle published over no previous one)
    meta = _metadata(first_run, "serving_bundle")
    assert meta["published_this_run"] is True
    assert meta["previous_pointer"] == {}, "first publication: no previous current.json"
    # then the smoke check called the real handler on the published root and agreed
    (evaluation,) = [
        c for c in first_run.get_asset_check_evaluations() if c.check_name == serving.ENDPOINT_SMOKE
    ]
    assert evaluation.passed, evaluation.description
    assert evaluation.blocking is True
    check = {k: v.value for k, v in evaluation.metadata.items()}
    assert check["served_version"] == check["expected_version"] == meta["model_version"]
    assert check["rows"] == 5
    assert check["status"] == 200
    assert check["max_relative_error"] <= check["tolerance"] == 1e-3
    assert check["rollback"] == "none needed"
    assert "Lambda handler in-process" in check["endpoint"]
    pointer = json.loads((home / "artifacts" / "bundles" / CURRENT_FILE).read_text())
    assert pointer == meta["pointer"], "current.json is the bundle published"
    # and the check's requests stayed out of the users' prediction log
    assert not any((home / "prediction-log").rglob("*.jsonl"))


def test_handler_serves_the_bundle_like_the_mlflow_champion(
    first_run, served_by_handler: None, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    # given the Lambda handler pointed at the materialized bundle, logging every invocation
    meta = _metadata(first_run, "serving_bundle")
    monkeypatch.setenv("BH_PRICING_MODEL_URI", meta["uri"])
    monkeypatch.setenv("BH_PRICING_PREDICTION_LOG_URI", str(home / "prediction-log"))
    monkeypatch.setenv("BH_PRICING_LOG_MAX_RECORDS", "1")
    # when it prices a listing
    event = {
        "resource": "/{proxy+}",
        "path": "/predict",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "requestContext": {"stage": "prod", "requestId": "r-1"},
        "body": json.dumps(LISTING),
        "isBase64Encoded": False,
    }
    response = handler(event, None)
    # then it answers with the champion's version and the champion's price
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["model_version"] == meta["model_version"]
    frame = pd.DataFrame([LISTING], columns=list(FEATURE_COLUMNS))
    expected = mlflow.pyfunc.load_model(CHAMPION_URI).predict(frame).iloc[0]
    assert body["price"] == pytest.approx(expected["price"], rel=1e-3)
    # with the champion's interval, stored in the bundle manifest
    assert body["interval"]["level"] == expected["interval_level"] == 0.8
    assert body["interval"]["low"] == pytest.approx(expected["interval_low"], rel=1e-3)
    assert body["interval"]["high"] == pytest.approx(expected["interval_high"], rel=1e-3)
    # and prediction_log reads the logged prediction back
    logged = _materialize("prediction_log")
    log_meta = _metadata(logged, "prediction_log")
    assert log_meta["dagster/row_count"] == 1
    assert log_meta["model_versions"] == meta["model_version"]
    assert log_meta["first_prediction"] == log_meta["last_prediction"]


def test_empty_log_is_an_empty_frame_with_a_note(first_run) -> None:
    meta = _metadata(first_run, "prediction_log")
    assert meta["dagster/row_count"] == 0
    assert meta["note"].startswith("no predictions logged under ")
    frame = first_run.output_for_node("prediction_log")
    assert frame.empty
    assert "prediction" in frame.columns


def test_unchanged_champion_keeps_the_published_bundle(first_run) -> None:
    published = _metadata(first_run, "serving_bundle")
    again = _materialize("serving_bundle")
    meta = _metadata(again, "serving_bundle")
    assert meta["action"].startswith("kept: "), meta["action"]
    assert meta["uri"] == published["uri"]
    assert _parity(again).passed, "the kept bundle is checked again on test_listings"


def test_parity_failure_leaves_the_previous_bundle_current(
    first_run, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a published bundle, and a new export whose prices drift by 1 %
    current = home / "artifacts" / "bundles" / CURRENT_FILE
    before = current.read_bytes()
    folders_before = {p.name for p in current.parent.iterdir() if p.is_dir()}
    tampered = ServedModel.predict_columns
    monkeypatch.setattr(
        ServedModel, "predict_columns", lambda self, columns: tampered(self, columns) * 1.01
    )
    # when serving_bundle is forced to export again
    config = {"ops": {"serving_bundle": {"config": {"force_export": True}}}}
    result = _materialize("serving_bundle", config, raise_on_error=False)
    # then the blocking check fails the run and current.json is byte-for-byte unchanged
    assert not result.success
    evaluation = _parity(result)
    assert not evaluation.passed
    assert "not published" in (evaluation.description or "")
    assert current.read_bytes() == before, "a bundle failing parity is never published"
    new = {p.name for p in current.parent.iterdir() if p.is_dir()} - folders_before
    assert len(new) == 1, "the failing bundle is written but left unpublished"
    assert json.loads(before)["bundle"] not in new


def test_failing_smoke_check_restores_the_previous_bundle(first_run, home: Path) -> None:
    # given a published bundle, and a smoke target (deployed URL) that does not answer
    current = home / "artifacts" / "bundles" / CURRENT_FILE
    before = current.read_bytes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # when serving_bundle exports and publishes a new bundle (parity holds)
    config = {"ops": {"serving_bundle": {"config": {"force_export": True}}}}
    result = _materialize(
        "serving_bundle",
        config,
        {"serving_endpoint": ServingEndpoint(url=url, timeout_seconds=5)},
        raise_on_error=False,
    )
    meta = _metadata(result, "serving_bundle")
    assert _parity(result).passed
    assert meta["published_this_run"] is True
    assert meta["previous_pointer"] == json.loads(before)
    # then the smoke check fails (ERROR) and current.json is the previous pointer again
    (evaluation,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == serving.ENDPOINT_SMOKE
    ]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "no answer" in (evaluation.description or "")
    assert "restored to" in evaluation.metadata["rollback"].value
    assert json.loads(current.read_bytes()) == json.loads(before)
