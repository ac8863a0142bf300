"""The local HTTP server answers like the Lambda (real socket on loopback)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bh_pricing.serving import local
from bh_pricing.serving.api import App


@pytest.fixture
def server_url(app: App) -> Iterator[str]:
    server = local.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _request(url: str, data: bytes | None = None, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.integration
def test_local_server_predicts_and_reports(server_url: str, savassi: dict, app: App) -> None:
    status, body = _request(f"{server_url}/predict", json.dumps(savassi).encode(), "POST")
    assert status == 200
    assert body["price"] > 0
    assert _request(f"{server_url}/health")[0] == 200
    status, body = _request(f"{server_url}/predict", b"{not json", "POST")
    assert (status, body["error"]) == (400, "malformed JSON")
    assert _request(f"{server_url}/nope")[0] == 404
    assert app.log.stats.records_written == 1


def test_local_server_flushes_the_log_at_exit(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(local.atexit, "register", registered.append)
    server = local.serve("127.0.0.1", 0)
    server.server_close()
    assert registered == [app.close], "the buffered log is written when the interpreter exits"
