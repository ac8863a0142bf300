"""The prediction log: contents, batching, failures that never fail a request, and the reader."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bh_pricing.io import storage
from bh_pricing.serving import lambda_handler
from bh_pricing.serving.api import create_app
from bh_pricing.serving.log_reader import LOG_COLUMNS, read_prediction_log
from bh_pricing.serving.predlog import PredictionLog
from bh_pricing.serving.service import PricingService, ServingSettings


def _log_lines(root: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted(root.rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def _wait_for_lines(root: Path, count: int, timeout: float = 10.0) -> None:
    """Poll until the log under ``root`` holds ``count`` records or ``timeout`` passes (the
    background flush takes the records from the buffer before it writes the file)."""
    deadline = time.monotonic() + timeout
    while len(_log_lines(root)) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_each_prediction_is_logged_at_the_end_of_the_invocation(
    service: PricingService, savassi: dict, kaggle_row: dict, v1_event: Any, invoke: Any
) -> None:
    # when a batch of two listings is priced
    status, body = invoke(v1_event("POST", "/predict", [savassi, kaggle_row]))
    assert status == 200
    # then two records are in one JSON-lines file under a date= folder, nothing pending
    root = Path(service.settings.prediction_log_uri)
    files = list(root.rglob("*.jsonl"))
    assert len(files) == 1
    assert files[0].parent.name.startswith("date=")
    records = _log_lines(root)
    assert [r["item"] for r in records] == [0, 1]
    assert {r["request_id"] for r in records} == {body["request_id"]}
    assert [r["prediction"] for r in records] == pytest.approx(body["prices"], abs=0.01)
    assert records[0]["model_version"] == "7"
    assert records[0]["inputs"] == savassi
    assert records[1]["inputs"]["neighborhood"] == "Funcionários"
    assert records[1]["inputs"]["square_foot"] == 102.0
    assert service.log.pending == 0


@pytest.mark.usefixtures("service")
def test_rejected_requests_are_not_logged(
    service: PricingService, savassi: dict, v1_event: Any, invoke: Any
) -> None:
    invoke(v1_event("POST", "/predict", savassi | {"rooms": -1}))
    assert _log_lines(Path(service.settings.prediction_log_uri)) == []


def test_buffer_flushes_by_size_when_due(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path), max_records=3, max_seconds=3600)
    inputs = [{"neighborhood": "Sion"}]
    log.record("a", "1", inputs, [1.0])
    log.record("b", "1", inputs, [2.0])
    assert log.flush_if_due(), "nothing due is not a failure"
    assert log.pending == 2
    assert not list(tmp_path.rglob("*.jsonl"))
    log.record("c", "1", inputs, [3.0])
    assert log.pending == 3, "recording never writes: the flush waits for the invocation's end"
    log.flush_if_due()
    assert log.pending == 0
    assert [r["request_id"] for r in _log_lines(tmp_path)] == ["a", "b", "c"]


def test_buffer_flushes_by_age_when_due(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path), max_records=1000, max_seconds=0)
    log.record("a", "1", [{"neighborhood": "Sion"}], [1.0])
    log.flush_if_due()
    assert log.pending == 0
    assert log.stats.files_written == 1


def test_invocations_share_one_write_until_due(
    bundle_root: str, tmp_path: Path, savassi: dict, v2_event: Any, invoke: Any
) -> None:
    # given the default batching (100 records or 30 s), here 3 records
    settings = ServingSettings(bundle_root, str(tmp_path / "log"), retry_seconds=0)
    assert (settings.log_max_records, settings.log_max_seconds) == (100, 30.0)
    service = PricingService(replace(settings, log_max_records=3))
    lambda_handler.reset_service(service)
    try:
        # when two single-listing invocations end, nothing is written yet
        for _ in range(2):
            assert invoke(v2_event("POST", "/predict", savassi))[0] == 200
        assert (service.log.pending, _log_lines(tmp_path / "log")) == (2, [])
        # then the third reaches the size and its end writes the three records in one file
        invoke(v2_event("POST", "/predict", savassi))
    finally:
        lambda_handler.reset_service(None)
    assert service.log.pending == 0
    assert len(list((tmp_path / "log").rglob("*.jsonl"))) == 1
    assert len(_log_lines(tmp_path / "log")) == 3


def test_asgi_lifespan_flushes_when_due_and_at_shutdown(
    bundle_root: str, tmp_path: Path, savassi: dict
) -> None:
    # given the app as uvicorn runs it (lifespan on), batching by 3 records
    settings = ServingSettings(bundle_root, str(tmp_path / "log"), log_max_records=3)
    service = PricingService(settings)
    with TestClient(create_app(service)) as client:
        # when 2 listings are priced, nothing is written; the 3rd fills the buffer
        for _ in range(2):
            assert client.post("/predict", json=savassi).status_code == 200
        assert (service.log.pending, _log_lines(tmp_path / "log")) == (2, [])
        assert client.post("/predict", json=savassi).status_code == 200
        # then the background task writes the 3 records in one file, without another request
        _wait_for_lines(tmp_path / "log", 3)
        assert len(_log_lines(tmp_path / "log")) == 3
        # and a record still buffered at shutdown is written by the lifespan's end
        assert client.post("/predict", json=savassi).status_code == 200
        assert service.log.pending == 1
    assert service.log.pending == 0
    assert len(_log_lines(tmp_path / "log")) == 4
    assert len(list((tmp_path / "log").rglob("*.jsonl"))) == 2


def test_asgi_background_flush_by_age(bundle_root: str, tmp_path: Path, savassi: dict) -> None:
    settings = ServingSettings(bundle_root, str(tmp_path / "log"), log_max_seconds=0.2)
    service = PricingService(settings)
    with TestClient(create_app(service)) as client:
        assert client.post("/predict", json=savassi).status_code == 200
        _wait_for_lines(tmp_path / "log", 1)
        assert _log_lines(tmp_path / "log") != [], "written once 0.2 s old, with no new request"


def test_batching_is_configured_from_the_environment() -> None:
    env = {"BH_PRICING_LOG_MAX_RECORDS": "1", "BH_PRICING_LOG_MAX_SECONDS": "2.5"}
    settings = ServingSettings.from_env(env)
    assert (settings.log_max_records, settings.log_max_seconds) == (1, 2.5)
    defaults = ServingSettings.from_env({})
    assert (defaults.log_max_records, defaults.log_max_seconds) == (100, 30.0)


def test_write_failure_is_counted_and_reported_but_request_succeeds(
    service: PricingService,
    savassi: dict,
    v1_event: Any,
    invoke: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given an artifact store that rejects writes
    def refuse(uri: str, data: bytes) -> None:
        raise storage.StorageError(f"cannot write {uri}: AccessDenied")

    monkeypatch.setattr(storage, "write_bytes", refuse)
    # when a prediction is made, then it is answered normally
    status, _ = invoke(v1_event("POST", "/predict", savassi))
    assert status == 200
    # and the failure is logged, counted and visible in /health, records kept for later
    assert "prediction log write failed" in caplog.text
    _, health = invoke(v1_event("GET", "/health"))
    assert health["prediction_log"]["write_failures"] >= 1
    assert "AccessDenied" in health["prediction_log"]["last_error"]
    assert health["prediction_log"]["pending"] == 1
    # when the store recovers, the kept record is written with the next flush
    monkeypatch.undo()
    invoke(v1_event("POST", "/predict", savassi))
    assert len(_log_lines(Path(service.settings.prediction_log_uri))) == 2


def test_buffer_is_bounded_while_the_store_is_down(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path / "file-not-dir"), max_records=1, max_seconds=0, max_buffer=5)
    (tmp_path / "file-not-dir").write_text("blocks the folder")
    for i in range(8):
        log.record(str(i), "1", [{"neighborhood": "Sion"}], [1.0])
        log.flush_if_due()
    assert log.pending == 5
    assert log.stats.records_dropped == 3
    assert log.stats.write_failures == 8


def test_reader_returns_one_row_per_prediction(
    service: PricingService, savassi: dict, v2_event: Any, invoke: Any
) -> None:
    invoke(v2_event("POST", "/predict", savassi))
    invoke(v2_event("POST", "/predict", [savassi | {"latitude": None}, savassi]))
    frame = read_prediction_log(service.settings.prediction_log_uri)
    assert list(frame.columns) == list(LOG_COLUMNS)
    assert len(frame) == 3
    assert frame["latitude"].isna().sum() == 1
    assert (frame["prediction"] > 0).all()
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"


def test_reader_on_empty_log(tmp_path: Path) -> None:
    frame = read_prediction_log(str(tmp_path / "nothing"))
    assert frame.empty
    assert list(frame.columns) == list(LOG_COLUMNS)


@pytest.mark.parametrize("listing_id", ["MLB-123", " 42 ", "a" * 100, "Lourdés/7#b"])
def test_listing_id_is_accepted_ignored_by_the_model_and_logged(
    service: PricingService, savassi: dict, v1_event: Any, invoke: Any, listing_id: str
) -> None:
    # given the same listing with and without the caller's id
    _, plain = invoke(v1_event("POST", "/predict", savassi))
    # when it is priced with a listing_id
    status, body = invoke(v1_event("POST", "/predict", savassi | {"listing_id": listing_id}))
    # then the price does not change, and the id is logged beside the inputs (stripped)
    assert status == 200, body
    assert body["price"] == plain["price"], "listing_id is not a feature"
    records = _log_lines(Path(service.settings.prediction_log_uri))
    assert [r["listing_id"] for r in records] == [None, listing_id.strip()]
    assert "listing_id" not in records[1]["inputs"], "inputs hold the features only"
    frame = read_prediction_log(service.settings.prediction_log_uri)
    assert frame["listing_id"].isna().tolist() == [True, False]
    assert frame["listing_id"].iloc[1] == listing_id.strip()


@pytest.mark.parametrize(
    ("listing_id", "problem"),
    [("a" * 101, "at most 100 characters"), ("", "at least 1 character"), (12, "valid string")],
)
def test_bad_listing_id_is_rejected_naming_the_field(
    service: PricingService,
    savassi: dict,
    v1_event: Any,
    invoke: Any,
    listing_id: object,
    problem: str,
) -> None:
    status, body = invoke(
        v1_event("POST", "/predict", [savassi, savassi | {"listing_id": listing_id}])
    )
    assert status == 422, body
    (detail,) = body["details"]
    assert detail["field"] == "[1].listing_id", detail
    assert problem in detail["problem"], detail
    assert _log_lines(Path(service.settings.prediction_log_uri)) == []


def test_reader_reads_logs_written_before_listing_id(tmp_path: Path) -> None:
    # given a log line without listing_id (written by an earlier version of the endpoint)
    record = {
        "request_id": "r",
        "item": 0,
        "time": "2026-01-31T10:00:00.000+00:00",
        "model_version": "3",
        "inputs": {"neighborhood": "Savassi", "square_foot": 90.0, "rooms": 3.0},
        "prediction": 900000.0,
    }
    folder = tmp_path / "date=2026-01-31"
    folder.mkdir()
    (folder / "old.jsonl").write_text(json.dumps(record) + "\n")
    # then it is read with a missing listing_id
    frame = read_prediction_log(str(tmp_path))
    assert len(frame) == 1
    assert frame["listing_id"].isna().all()
