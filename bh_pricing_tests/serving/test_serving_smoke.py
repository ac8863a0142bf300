"""Post-publication smoke test (``bh_pricing.serving.smoke``) without Dagster: the real handler and
a real HTTP server answer like the published bundle; a tampered bundle, a wrong version, a 5xx or
no answer fail and put the previous ``current.json`` back (or remove it on a first publication)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn

from bh_pricing.serving import lambda_handler
from bh_pricing.serving.api import create_app
from bh_pricing.serving.manifest import CURRENT_FILE, MODEL_FILE, CurrentPointer
from bh_pricing.serving.runtime import load_bundle, read_current
from bh_pricing.serving.service import PricingService, ServingSettings
from bh_pricing.serving.smoke import compare_answer, smoke_listings, smoke_test
from bh_pricing.serving.smoke_endpoints import EndpointAnswer, HttpEndpoint, LocalHandler


class Canned:
    """An endpoint that answers what it is told (wrong version, 5xx ...)."""

    description = "canned"

    def __init__(self, answer: EndpointAnswer) -> None:
        self.answer = answer

    def predict(self, listings: list[dict[str, Any]]) -> EndpointAnswer:
        return self.answer


def _pointer(root: str) -> CurrentPointer | None:
    return read_current(root)


def test_smoke_listings_are_spread_json_ready_features(listings: pd.DataFrame) -> None:
    frame = listings.copy()
    frame.loc[frame.index[0], "latitude"] = np.nan
    rows = smoke_listings(frame, rows=4)
    assert len(rows) == 4
    assert rows[0]["latitude"] is None, "NaN coordinates are sent as null"
    assert json.loads(json.dumps(rows)) == rows, "plain JSON values"
    assert rows[-1]["square_foot"] == float(frame["square_foot"].iloc[-1]), "first to last row"
    with pytest.raises(ValueError, match="rooms"):
        smoke_listings(frame.drop(columns="rooms"))
    with pytest.raises(ValueError, match="empty"):
        smoke_listings(frame.iloc[:0])


def test_real_handler_answers_like_the_bundle_and_logs_nothing(
    published: tuple[str, CurrentPointer, CurrentPointer],
    rows: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a process whose handler already serves another service, logging to the users' log
    root, previous, current = published
    users_log = tmp_path / "users-log"
    monkeypatch.setenv("BH_PRICING_PREDICTION_LOG_URI", str(users_log))
    held = PricingService(ServingSettings(model_uri=None, prediction_log_uri=str(users_log)))
    lambda_handler.reset_service(held)
    try:
        # when the smoke test calls the real handler on the published root
        outcome = smoke_test(LocalHandler(root), root, current, previous, rows)
        # then the process keeps its own service
        assert lambda_handler.get_service() is held
    finally:
        lambda_handler.reset_service(None)
    # and the answers are the bundle's, from the published version
    assert outcome.report.passed, outcome.report.reason
    assert outcome.report.status == 200
    assert outcome.report.served_version == outcome.report.expected_version == "7"
    assert outcome.report.max_relative_error is not None
    assert outcome.report.max_relative_error <= outcome.report.tolerance
    assert outcome.rollback == "none needed"
    assert _pointer(root) == current, "current.json untouched"
    # and nothing went into the users' prediction log
    assert not users_log.exists() or not any(users_log.rglob("*.jsonl"))


def test_tampered_bundle_fails_and_restores_the_previous_pointer(
    published: tuple[str, CurrentPointer, CurrentPointer], rows: list[dict[str, Any]]
) -> None:
    root, previous, current = published
    model = Path(root) / current.bundle / MODEL_FILE
    model.write_bytes(model.read_bytes()[:-16] + b"\0" * 16)
    outcome = smoke_test(LocalHandler(root), root, current, previous, rows)
    assert not outcome.report.passed
    assert "unreadable" in outcome.report.reason
    assert "sha256" in outcome.report.reason
    assert _pointer(root) == previous
    assert f"restored to {previous.bundle} (v6)" in outcome.rollback
    # the handler now serves the previous bundle again
    assert LocalHandler(root).predict(rows).body["model_version"] == "6"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (EndpointAnswer(200, {"model_version": "6", "prices": []}), "serves v6"),
        (EndpointAnswer(503, {"error": "model bundle unavailable"}), "answered 503"),
        (EndpointAnswer(500, {}, "body is not JSON: 'oops'"), "answered 500"),
        (EndpointAnswer(0, {}, "no answer from http://x/predict"), "no answer"),
        (EndpointAnswer(200, {}, "body is not JSON: '<html>'"), "answered 200: body is not JSON"),
        (EndpointAnswer(200, {"model_version": "7", "prices": [1.0]}), "expected 5 prices"),
    ],
)
def test_wrong_answers_fail_and_restore(
    published: tuple[str, CurrentPointer, CurrentPointer],
    rows: list[dict[str, Any]],
    answer: EndpointAnswer,
    reason: str,
) -> None:
    root, previous, current = published
    outcome = smoke_test(Canned(answer), root, current, previous, rows)
    assert not outcome.report.passed
    assert reason in outcome.report.reason
    assert _pointer(root) == previous, "previous current.json restored"


def test_real_handler_without_the_bundle_answers_503_and_fails(
    published: tuple[str, CurrentPointer, CurrentPointer],
    rows: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    root, previous, current = published
    outcome = smoke_test(LocalHandler(str(tmp_path / "empty")), root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == 503
    assert "answered 503" in outcome.report.reason
    assert _pointer(root) == previous


def test_prices_off_by_more_than_the_tolerance_fail(
    published: tuple[str, CurrentPointer, CurrentPointer], rows: list[dict[str, Any]]
) -> None:
    root, _, current = published
    expected = load_bundle(str(Path(root) / current.bundle)).predict_records(rows)
    close = EndpointAnswer(200, {"model_version": "7", "prices": list(expected * 1.0005)})
    assert compare_answer(close, expected, "7").passed
    off = EndpointAnswer(200, {"model_version": "7", "prices": list(expected * 1.01)})
    report = compare_answer(off, expected, "7")
    assert not report.passed
    assert "exceeds" in report.reason
    assert report.max_relative_error == pytest.approx(0.01)
    null = EndpointAnswer(200, {"model_version": "7", "prices": [None] * len(expected)})
    assert not compare_answer(null, expected, "7").passed


def test_first_publication_failing_leaves_nothing_published(
    tmp_path: Path,
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    rows: list[dict[str, Any]],
) -> None:
    root = str(tmp_path / "bundles")
    export(fitted["gradient_boosting"], root, listings, model_version="1")
    current = read_current(root)
    assert current is not None
    outcome = smoke_test(Canned(EndpointAnswer(502, {})), root, current, None, rows)
    assert not outcome.report.passed
    assert "nothing served" in outcome.rollback
    assert not (Path(root) / CURRENT_FILE).exists()
    assert LocalHandler(root).predict(rows).status == 503, "the endpoint has no model"


def test_a_later_publication_is_never_rolled_back(
    published: tuple[str, CurrentPointer, CurrentPointer],
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    rows: list[dict[str, Any]],
) -> None:
    root, previous, current = published
    export(fitted["comparables"], root, listings, model_version="8")
    later = read_current(root)
    outcome = smoke_test(Canned(EndpointAnswer(503, {})), root, current, previous, rows)
    assert not outcome.report.passed
    assert "left as is" in outcome.rollback
    assert _pointer(root) == later


def test_kept_bundle_is_not_rolled_back(
    published: tuple[str, CurrentPointer, CurrentPointer], rows: list[dict[str, Any]]
) -> None:
    root, previous, current = published
    outcome = smoke_test(
        Canned(EndpointAnswer(503, {})), root, current, previous, rows, restore=False
    )
    assert not outcome.report.passed
    assert "did not publish" in outcome.rollback
    assert _pointer(root) == current


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server(published: tuple[str, CurrentPointer, CurrentPointer]) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, serving the published root (no log)."""
    root = published[0]
    app = create_app(PricingService(ServingSettings(model_uri=root, prediction_log_uri=None)))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_deployed_url_answers_like_the_bundle(
    published: tuple[str, CurrentPointer, CurrentPointer],
    http_server: str,
    rows: list[dict[str, Any]],
) -> None:
    root, previous, current = published
    outcome = smoke_test(HttpEndpoint(http_server + "/"), root, current, previous, rows)
    assert outcome.report.passed, outcome.report.reason
    assert outcome.report.served_version == "7"


def test_url_answering_404_fails(
    published: tuple[str, CurrentPointer, CurrentPointer],
    http_server: str,
    rows: list[dict[str, Any]],
) -> None:
    root, previous, current = published
    outcome = smoke_test(HttpEndpoint(http_server + "/stage"), root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == 404
    assert _pointer(root) == previous


def test_unreachable_url_fails_and_restores(
    published: tuple[str, CurrentPointer, CurrentPointer], rows: list[dict[str, Any]]
) -> None:
    root, previous, current = published
    endpoint = HttpEndpoint(f"http://127.0.0.1:{_free_port()}", timeout=5)
    outcome = smoke_test(endpoint, root, current, previous, rows)
    assert not outcome.report.passed
    assert outcome.report.status == 0
    assert "no answer" in outcome.report.reason
    assert _pointer(root) == previous
