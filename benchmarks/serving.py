"""Serving latency and load: the ONNX bundle through the Lambda handler and under ``make serve``.

    python benchmarks/serving.py [--candidate comparables] [--max-iter 800] [--requests 2000]
                                 [--load-seconds 60] [--clients 16] [--reference-rev REV]
                                 [--skip-package]

Fits a boosting candidate (default: comparables, the champion on the real file) on sample
data, exports it as a bundle, and measures: cold start (fresh interpreter: import the handler,
load the bundle, answer /health), warm p50/p99 through ``handler`` (Mangum + FastAPI) for one row
and for batches of 100, and the MLflow champion loaded per request as reference. Then a loopback
load test: ``--clients`` concurrent keep-alive clients POST one listing to ``/predict`` for
``--load-seconds`` against ``make serve`` (uvicorn), then SIGTERM, and the prediction log must
hold one record per successful prediction; the same against the stdlib server of
``--reference-rev`` (git revision before the FastAPI app; skipped when empty). Also builds the
Lambda zip and reports its unzipped size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from bh_pricing.constants import (
    CHAMPION_ALIAS,
    CHAMPION_URI,
    FEATURE_COLUMNS,
    REGISTERED_MODEL_NAME,
)
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.evaluation import cross_validate
from bh_pricing.core.models import CANDIDATES, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io.model_logging import calibrate_interval, load_pricing_model, log_pricing_model
from bh_pricing.lifecycle.fitting import model_requirements
from bh_pricing.serving import lambda_handler
from bh_pricing.serving.bundle import export_bundle
from bh_pricing.serving.service import PricingService, ServingSettings

ROOT = Path(__file__).resolve().parents[1]
COLD_START = """
import time, json
started = time.perf_counter()
from bh_pricing.serving import handler
imported = time.perf_counter()
event = {"resource": "/{proxy+}", "path": "/health", "httpMethod": "GET", "headers": {},
         "requestContext": {"stage": "prod", "requestId": "cold"}, "body": None}
response = handler(event, None)
assert response["statusCode"] == 200, response
print(json.dumps({"import": imported - started, "total": time.perf_counter() - started}))
"""


def timings(call: Callable[[], object], n: int) -> list[float]:
    """Wall time of ``n`` calls in milliseconds."""
    result = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        result.append((time.perf_counter() - started) * 1000)
    return result


def pct(values: list[float], q: float) -> float:
    """Percentile ``q`` (0-100)."""
    return float(np.percentile(values, q))


def cold_start(model_uri: str, runs: int) -> dict[str, float]:
    """Median import and import+load+first-answer time of a fresh interpreter, and process wall."""
    env = {**os.environ, "BH_PRICING_MODEL_URI": model_uri}
    env.pop("BH_PRICING_PREDICTION_LOG_URI", None)
    inner, imports, walls = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_START], env=env, capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - started)
        measured = json.loads(out.stdout)
        inner.append(measured["total"])
        imports.append(measured["import"])
    return {
        "import": statistics.median(imports),
        "ready": statistics.median(inner),
        "process": statistics.median(walls),
    }


def mlflow_reference(
    estimator: object,
    X: pd.DataFrame,
    y: pd.Series,
    tmp: Path,
    rows: pd.DataFrame,
    batch: pd.DataFrame,
    n: int,
) -> dict[str, list[float]]:
    """Per-request ``load_model(champion)`` + predict, on a temporary sqlite MLflow store."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
    interval = calibrate_interval(cross_validate(estimator, X, y, folds=5, seed=0), folds=5)
    with mlflow.start_run(experiment_id=experiment):
        info = log_pricing_model(estimator, interval, X, model_requirements())
    version = mlflow.register_model(info.model_uri, REGISTERED_MODEL_NAME)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, version.version)

    def per_request(frame: pd.DataFrame) -> Callable[[], object]:
        return lambda: mlflow.pyfunc.load_model(CHAMPION_URI).predict(frame)

    loaded = mlflow.pyfunc.load_model(CHAMPION_URI)
    return {
        "single": timings(per_request(rows), n),
        "batch": timings(per_request(batch), max(3, n // 2)),
        "single_loaded_once": timings(lambda: loaded.predict(rows), 200),
    }


def proxy_event(method: str, path: str, body: str | None = None) -> dict[str, object]:
    """An API Gateway REST (v1) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "requestContext": {"stage": "prod", "requestId": "bench"},
        "body": body,
        "isBase64Encoded": False,
    }


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _one_client(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    """POST ``request`` in a loop until ``deadline``, reconnecting when the server closes."""
    reader = writer = None
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length, close = 0, status_line.startswith(b"HTTP/1.0")
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                close = close or (name.lower() == "connection" and "close" in value.lower())
            await reader.readexactly(length)
            status = int(status_line.split()[1])
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
            errors.append(type(exc).__name__)
            writer = None
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            errors.append(f"HTTP {status}")
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def load_test(port: int, body: bytes, clients: int, seconds: float) -> dict[str, object]:
    """``clients`` concurrent keep-alive clients for ``seconds``: rate, latency, errors."""
    request = (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    latencies: list[float] = []
    errors: list[str] = []

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_one_client(port, request, deadline, latencies, errors) for _ in range(clients))
        )

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    return {
        "rate": len(latencies) / elapsed,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "errors": len(errors),
        "ok": len(latencies) - sum(e.startswith("HTTP") for e in errors),
        "kinds": sorted(set(errors)),
    }


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until ``GET /health`` answers 200 (the process must stay up)."""
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer on port {port}")


def logged_records(folder: Path) -> int:
    """JSON-lines records under ``folder``."""
    return sum(len(f.read_text().splitlines()) for f in folder.rglob("*.jsonl"))


def serve_and_load(
    command: list[str], env: dict[str, str], port: int, log: Path, body: bytes, args: object
) -> dict[str, object]:
    """Start a server, load it, SIGTERM it, and count the logged records."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(port, process)
        result = load_test(port, body, args.clients, args.load_seconds)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    result["logged"] = logged_records(log)
    return result


def uvicorn_load(bundles: Path, tmp: Path, body: bytes, args: object) -> dict[str, object]:
    """``make serve`` (uvicorn) with ``BH_PRICING_HOME`` = a fresh folder."""
    home = tmp / "serve-home"
    (home / "artifacts").mkdir(parents=True)
    shutil.copytree(bundles, home / "artifacts" / "bundles")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BH_PRICING_")}
    env["BH_PRICING_HOME"] = str(home)
    command = ["make", "--no-print-directory", "serve", f"PORT={port}"]
    return serve_and_load(command, env, port, home / "prediction-log", body, args)


def stdlib_load(
    estimator: object, X: pd.DataFrame, tmp: Path, body: bytes, args: object
) -> dict[str, object] | None:
    """The stdlib server of ``--reference-rev`` (its own bundle: that manifest had no interval)."""
    if not args.reference_rev:
        return None
    source = tmp / "reference-source"
    source.mkdir()
    archive = subprocess.run(
        ["git", "archive", args.reference_rev, "bh_pricing"], cwd=ROOT, capture_output=True
    )
    if archive.returncode != 0:
        print(f"reference {args.reference_rev}: {archive.stderr.decode().strip()}; skipped")
        return None
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    bundles = tmp / "reference-bundles"
    export_bundle(
        estimator,
        str(bundles),
        model_version="1",
        run_id="benchmark",
        test_metrics={},
        known_neighborhoods=sorted(X["neighborhood"].unique()),
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BH_PRICING_")}
    env |= {
        "PYTHONPATH": str(source),
        "BH_PRICING_MODEL_URI": str(bundles),
        "BH_PRICING_PREDICTION_LOG_URI": str(tmp / "reference-log"),
    }
    command = [sys.executable, "-m", "bh_pricing.serving.local", "--port", str(port)]
    try:
        return serve_and_load(command, env, port, tmp / "reference-log", body, args)
    except RuntimeError as exc:
        print(f"reference server {args.reference_rev}: {exc}; skipped")
        return None


def main() -> None:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--candidate", choices=["comparables", "gradient_boosting"], default="comparables"
    )
    parser.add_argument("--max-iter", type=int, default=800, help="boosting iterations")
    parser.add_argument("--requests", type=int, default=2000, help="warm single-row requests")
    parser.add_argument("--mlflow-requests", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--reference-rev", default="284be4f", help="git revision with the stdlib server ('' skips)"
    )
    parser.add_argument("--skip-package", action="store_true", help="do not build the zip")
    args = parser.parse_args()

    listings = clean_listings(generate_raw_listings(5981, seed=0)).clean
    X, y = split_features_target(listings)
    estimator = CANDIDATES[args.candidate].build(max_iter=args.max_iter).fit(X, y)
    tmp = Path(tempfile.mkdtemp(prefix="bh-pricing-bench-"))
    reference = mlflow_reference(estimator, X, y, tmp, X.head(1), X.head(100), args.mlflow_requests)
    interval = load_pricing_model(CHAMPION_URI)[1]
    exported = export_bundle(
        estimator,
        str(tmp / "bundles"),
        model_version="1",
        run_id="benchmark",
        test_metrics={},
        known_neighborhoods=sorted(X["neighborhood"].unique()),
        interval=interval,
        check_frame=listings,
    )
    print(
        f"bundle {exported.uri}: parity max relative error "
        f"{exported.parity.max_relative_error:.1e} over {exported.parity.rows} rows"
    )

    records = X.head(100).astype(object).where(X.head(100).notna(), None).to_dict("records")
    single = proxy_event("POST", "/predict", json.dumps(records[0]))
    batch = proxy_event("POST", "/predict", json.dumps(records))
    settings = ServingSettings(str(tmp / "bundles"), str(tmp / "log"), retry_seconds=0)
    lambda_handler.reset_service(PricingService(settings))
    for _ in range(50):
        lambda_handler.handler(single, None)
    warm_single = timings(lambda: lambda_handler.handler(single, None), args.requests)
    warm_batch = timings(lambda: lambda_handler.handler(batch, None), max(50, args.requests // 10))
    cold = cold_start(str(tmp / "bundles"), args.cold_runs)

    rows = [
        ("cold start: import handler", cold["import"] * 1000, None, "-"),
        ("cold start: import + load + first answer", cold["ready"] * 1000, None, "<= 500"),
        ("cold start: whole process (incl. interpreter)", cold["process"] * 1000, None, "-"),
        ("Lambda handler (Mangum+FastAPI+ONNX), 1 row", *_p(warm_single), "p50 <= 0.5"),
        ("Lambda handler, 100 rows", *_p(warm_batch), "-"),
        ("MLflow load per request, 1 row", *_p(reference["single"]), "reference"),
        ("MLflow load per request, 100 rows", *_p(reference["batch"]), "reference"),
        ("MLflow pyfunc loaded once, 1 row", *_p(reference["single_loaded_once"]), "reference"),
    ]
    print(
        f"\nmodel: {args.candidate} (HistGradientBoosting max_iter={args.max_iter}), "
        f"{len(X)} training rows; warm n={args.requests}"
    )
    print(f"| {'measurement':<46} | {'p50 / median ms':>15} | {'p99 ms':>8} | target |")
    print(f"|{'-' * 48}|{'-' * 17}|{'-' * 10}|--------|")
    for name, p50, p99, target in rows:
        p99_text = f"{p99:8.2f}" if p99 is not None else f"{'':>8}"
        print(f"| {name:<46} | {p50:15.2f} | {p99_text} | {target} |")

    body = json.dumps(records[0]).encode()
    loads = {"make serve (uvicorn, FastAPI)": uvicorn_load(tmp / "bundles", tmp, body, args)}
    print(f"make serve: {loads['make serve (uvicorn, FastAPI)']}", flush=True)
    old = stdlib_load(estimator, X, tmp, body, args)
    if old is not None:
        loads[f"stdlib server ({args.reference_rev})"] = old
    print(
        f"\nload: {args.clients} keep-alive clients, POST /predict (1 listing), "
        f"{args.load_seconds:.0f} s on loopback; then SIGTERM"
    )
    print("| server | requests/s | p50 ms | p99 ms | errors | logged / ok |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in loads.items():
        kinds = f" ({', '.join(r['kinds'])})" if r["kinds"] else ""
        print(
            f"| {name} | {r['rate']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['errors']}{kinds} | {r['logged']} / {r['ok']} |"
        )
    print("targets: >= 1500 requests/s, 0 errors, p99 <= 20 ms, logged = ok")
    if not args.skip_package:
        sys.path.insert(0, str(ROOT / "deploy"))
        from build_lambda_zip import build

        archive, unzipped = build(tmp / "lambda")
        print(
            f"\nLambda zip: {archive.stat().st_size / 1e6:.1f} MB zipped, {unzipped:.1f} MB "
            "unzipped (limit 250 MB, target 150 MB)"
        )
    model_size = (Path(exported.uri) / "model.onnx").stat().st_size / 1e6
    print(f"model.onnx: {model_size:.2f} MB; features {', '.join(FEATURE_COLUMNS)}")


def _p(values: list[float]) -> tuple[float, float]:
    return pct(values, 50), pct(values, 99)


if __name__ == "__main__":
    main()
