"""Serving latency: the ONNX bundle through the Lambda handler vs loading the MLflow champion.

    python benchmarks/serving.py [--candidate comparables] [--max-iter 800] [--requests 2000]
                                 [--skip-package]

Fits a boosting candidate (default: comparables, the champion on the real file) on sample
data, exports it as a bundle, and measures: cold start (fresh interpreter: import the handler,
load the bundle, answer /health), warm p50/p99 through ``handler`` for one row and for batches
of 100, and the earlier approach as reference:
``mlflow.pyfunc.load_model("models:/bh-pricing@champion")`` per request on a temporary local
MLflow store. Also builds the Lambda zip and reports its unzipped size.
"""

from __future__ import annotations

import argparse
import json
import os
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
from bh_pricing.core.models import CANDIDATES, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.lifecycle.fitting import SKOPS_TRUSTED_TYPES
from bh_pricing.serving import handler as handler_module
from bh_pricing.serving.api import App, ServingSettings
from bh_pricing.serving.bundle import export_bundle

ROOT = Path(__file__).resolve().parents[1]
# Reviewed: the benchmark logs a model it has just fitted itself.
COLD_START = """
import time, json
started = time.perf_counter()
from bh_pricing.serving.handler import handler
imported = time.perf_counter()
response = handler({"httpMethod": "GET", "path": "/health"}, None)
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
    estimator: object, tmp: Path, rows: pd.DataFrame, batch: pd.DataFrame, n: int
) -> dict[str, list[float]]:
    """Per-request ``load_model(champion)`` + predict, on a temporary sqlite MLflow store."""
    import mlflow
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=infer_signature(rows, estimator.predict(rows)),
            registered_model_name=REGISTERED_MODEL_NAME,
            serialization_format="skops",
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=["scikit-learn", "numpy", "pandas", "skops", "mlflow"],
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(
        REGISTERED_MODEL_NAME, CHAMPION_ALIAS, info.registered_model_version
    )

    def per_request(frame: pd.DataFrame) -> Callable[[], object]:
        return lambda: mlflow.pyfunc.load_model(CHAMPION_URI).predict(frame)

    loaded = mlflow.pyfunc.load_model(CHAMPION_URI)
    return {
        "single": timings(per_request(rows), n),
        "batch": timings(per_request(batch), max(3, n // 2)),
        "single_loaded_once": timings(lambda: loaded.predict(rows), 200),
    }


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--candidate", choices=["comparables", "gradient_boosting"], default="comparables"
    )
    parser.add_argument("--max-iter", type=int, default=800, help="boosting iterations")
    parser.add_argument("--requests", type=int, default=2000, help="warm single-row requests")
    parser.add_argument("--mlflow-requests", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--skip-package", action="store_true", help="do not build the zip")
    args = parser.parse_args()

    listings = clean_listings(generate_raw_listings(5981, seed=0)).clean
    X, y = split_features_target(listings)
    estimator = CANDIDATES[args.candidate].build(max_iter=args.max_iter).fit(X, y)
    tmp = Path(tempfile.mkdtemp(prefix="bh-pricing-bench-"))
    exported = export_bundle(
        estimator,
        str(tmp / "bundles"),
        model_version="1",
        run_id="benchmark",
        test_metrics={},
        known_neighborhoods=sorted(X["neighborhood"].unique()),
        check_frame=listings,
    )
    print(
        f"bundle {exported.uri}: parity max relative error "
        f"{exported.parity.max_relative_error:.1e} over {exported.parity.rows} rows"
    )

    records = X.head(100).astype(object).where(X.head(100).notna(), None).to_dict("records")
    single = {"httpMethod": "POST", "path": "/predict", "body": json.dumps(records[0])}
    batch = {"httpMethod": "POST", "path": "/predict", "body": json.dumps(records)}
    settings = ServingSettings(str(tmp / "bundles"), str(tmp / "log"), retry_seconds=0)
    handler_module.reset_app(App(settings))
    for _ in range(50):
        handler_module.handler(single, None)
    warm_single = timings(lambda: handler_module.handler(single, None), args.requests)
    warm_batch = timings(lambda: handler_module.handler(batch, None), max(50, args.requests // 10))
    cold = cold_start(str(tmp / "bundles"), args.cold_runs)
    reference = mlflow_reference(estimator, tmp, X.head(1), X.head(100), args.mlflow_requests)

    rows = [
        ("cold start: import handler", cold["import"] * 1000, None, "-"),
        ("cold start: import + load + first answer", cold["ready"] * 1000, None, "<= 1500"),
        ("cold start: whole process (incl. interpreter)", cold["process"] * 1000, None, "-"),
        ("ONNX handler, 1 row", pct(warm_single, 50), pct(warm_single, 99), "p50 <= 2, p99 <= 5"),
        ("ONNX handler, 100 rows", pct(warm_batch, 50), pct(warm_batch, 99), "-"),
        (
            "MLflow load per request, 1 row",
            pct(reference["single"], 50),
            pct(reference["single"], 99),
            "reference",
        ),
        (
            "MLflow load per request, 100 rows",
            pct(reference["batch"], 50),
            pct(reference["batch"], 99),
            "reference",
        ),
        (
            "MLflow pyfunc loaded once, 1 row",
            pct(reference["single_loaded_once"], 50),
            pct(reference["single_loaded_once"], 99),
            "reference",
        ),
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
    if not args.skip_package:
        sys.path.insert(0, str(ROOT / "deploy"))
        from build_lambda_zip import build

        archive, unzipped = build(tmp / "lambda")
        print(
            f"\nLambda zip: {archive.stat().st_size / 1e6:.1f} MB zipped, {unzipped:.1f} MB "
            "unzipped (limit 250 MB, target 100 MB)"
        )
    model_size = (Path(exported.uri) / "model.onnx").stat().st_size / 1e6
    print(f"model.onnx: {model_size:.2f} MB; features {', '.join(FEATURE_COLUMNS)}")


if __name__ == "__main__":
    main()
