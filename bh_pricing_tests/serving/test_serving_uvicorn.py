"""The app under a real uvicorn process on loopback (``make serve``): README's curl examples as
written, a slow client that blocks nobody, chunked bodies, HEAD/OPTIONS/CORS, and the prediction
log written at SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A ``make serve`` process group and where it listens and logs."""

    process: subprocess.Popen[bytes]
    port: int
    home: Path

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self) -> int:
        """SIGTERM to the group (as ``docker stop``/ECS do); the exit status of ``make``."""
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=30)


def _log_records(home: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted((home / "prediction-log").rglob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


@pytest.fixture
def serve(bundle_root: str, tmp_path: Path) -> Iterator[Any]:
    """``serve(**env)`` starts ``make serve PORT=<free>`` with ``BH_PRICING_HOME`` = a temporary
    folder whose ``artifacts/bundles`` is the test bundle; stopped at the end."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        home = tmp_path / f"home{len(started)}"
        (home / "artifacts").mkdir(parents=True)
        shutil.copytree(bundle_root, home / "artifacts" / "bundles")
        port = _free_port()
        variables = {k: v for k, v in os.environ.items() if not k.startswith("BH_PRICING_")}
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={port}"],
            cwd=REPO,
            env=variables | {"BH_PRICING_HOME": str(home)} | env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        server = Server(process, port, home)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if server.request("GET", "/health")[0] == 200:
                    return server
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"make serve did not answer on port {port}")

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


def _readme_serving_commands() -> tuple[str, list[str]]:
    """The ``make serve`` line and the curl commands of README's Serving block, as written."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Serving\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's Serving section has no bash block"
    lines = block.group(1).splitlines()
    serve_line = next(line for line in lines if "make serve" in line)
    commands, current = [], ""
    for line in lines:
        if line.startswith("curl "):
            if current:
                commands.append(current)
            current = line
        elif current:
            current += "\n" + line
    return serve_line, [*commands, current]


def test_readme_curl_examples_as_written(serve: Any) -> None:
    serve_line, commands = _readme_serving_commands()
    assert serve_line.startswith("make serve ") or serve_line == "make serve"
    assert len(commands) == 5
    server = serve()
    answers = []
    for command in commands:
        # the examples use the default port; the test server listens on a free one
        moved = command.replace("localhost:8080", f"localhost:{server.port}")
        done = subprocess.run(
            ["bash", "-c", moved], capture_output=True, text=True, timeout=30, check=True
        )
        answers.append(json.loads(done.stdout))
    health, model, single, batch, spec = answers
    assert health["status"] == "ok"
    assert model["model_version"] == "7"
    assert single["interval"]["low"] < single["price"] < single["interval"]["high"]
    assert batch["count"] == 1
    assert batch["intervals"][0]["low"] < batch["prices"][0] < batch["intervals"][0]["high"]
    assert "/predict" in spec["paths"]
    # and make serve logs under $BH_PRICING_HOME/prediction-log (written at shutdown)
    server.stop()
    assert len(_log_records(server.home)) == 2


def test_slow_client_does_not_block_others(serve: Any, savassi: dict) -> None:
    server = serve()
    # given a client that sent half a request and waits
    with socket.create_connection(("127.0.0.1", server.port)) as slow:
        slow.sendall(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n{"ne')
        # then others are answered at once
        started = time.monotonic()
        for _ in range(5):
            assert server.request("GET", "/health")[0] == 200
            status, _, body = server.request("POST", "/predict", json.dumps(savassi).encode())
            assert status == 200, body
        assert time.monotonic() - started < 5


def test_chunked_body_head_options_and_errors(serve: Any, savassi: dict) -> None:
    server = serve()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    payload = json.dumps(savassi).encode()
    chunks = (payload[i : i + 7] for i in range(0, len(payload), 7))
    connection.request("POST", "/predict", body=chunks, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["price"] > 0
    connection.close()
    status, headers, body = server.request("HEAD", "/health")
    assert (status, body) == (200, b"")
    status, headers, body = server.request("OPTIONS", "/predict")
    assert status == 405
    assert "POST" in headers["allow"]
    assert json.loads(body)["details"][0]["field"] == "method"
    status, _, body = server.request("POST", "/predict", b"{not json")
    assert (status, json.loads(body)["error"]) == (400, "malformed JSON")
    assert server.request("GET", "/nope")[0] == 404
    status, _, body = server.request("GET", "/docs")
    assert status == 200
    assert b"swagger" in body.lower()


def test_cors_from_the_environment(serve: Any) -> None:
    server = serve(BH_PRICING_CORS_ORIGINS="https://app.example.com")
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    status, headers, _ = server.request("OPTIONS", "/predict", headers=preflight)
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    status, headers, _ = server.request("OPTIONS", "/predict", headers=preflight | {"Origin": "x"})
    assert "access-control-allow-origin" not in headers


def test_sigterm_writes_every_successful_prediction(serve: Any, savassi: dict) -> None:
    # given the default batching (100 records or 30 s): nothing written by 7 predictions
    server = serve()
    ok = 0
    for i in range(7):
        listing = savassi | {"rooms": 1 + i % 4}
        ok += server.request("POST", "/predict", json.dumps(listing).encode())[0] == 200
    assert server.request("POST", "/predict", b"[]")[0] == 422
    assert _log_records(server.home) == []
    # when the platform stops the process, then the buffer is written first
    server.stop()
    records = _log_records(server.home)
    assert len(records) == ok == 7
