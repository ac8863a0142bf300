"""Cost of the graph against the number of listings: time and peak memory per stage, bundle size.

For each size (default 10 k, 100 k and 1 M raw listings) a fresh interpreter runs the stages one
after another through the plain functions the assets call (no Dagster run, no MLflow logging):

    generate     ``core.sample.generate_raw_listings(N)``
    clean        ``core.cleaning.clean_listings``
    split        ``train_test_split`` (20 % held out, seed 42), as ``train_test``
    <candidate>  ``fit_candidate`` + ``cross_validate`` on one thread, as ``log_candidate``
    champion     every candidate scored on the held-out rows, lowest RMSE, as ``champion_model``
    bundle       ``export_bundle`` with the parity check on the held-out rows, as ``serving_bundle``
    handler      warm 1-row p50 through the Lambda handler on that bundle

Peak memory of a stage is the process's peak resident set size during it (``VmHWM``, reset by
writing 5 to ``/proc/self/clear_refs`` before the stage), so it includes the frames still held
from earlier stages. The fitted log-log slope of time against n is per stage and in total.

Reference: the all-pairs ``SpatialPriceLevel.fit_transform`` that the lattice replaced,
reproduced below (``all_pairs_level``), timed at 10 k, 20 k and 40 k training rows and projected
to 1 M with its own fitted slope, beside the lattice at the same sizes.

    python benchmarks/scale.py [--sizes 10000 100000 1000000] [--reference 10000 20000 40000]
                               [--bundle-only]

Never run two of these at once at 1 M rows: one size at a time is part of the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.evaluation import cross_validate, regression_metrics
from bh_pricing.core.models import CANDIDATES, fit_candidate, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.spatial import SPATIAL_COLUMNS, SpatialPriceLevel, planar_metres
from bh_pricing.serving import handler, lambda_handler
from bh_pricing.serving.bundle import export_bundle
from bh_pricing.serving.service import PricingService, ServingSettings
from bh_pricing.serving.smoke_endpoints import predict_event

TARGET_SECONDS_1M = 15 * 60
TARGET_PEAK_GB = 8.0
TARGET_BUNDLE_MB = 25.0
SEED = 42
QUICK_ITER = 20


def peak_rss_gb() -> float:
    """Peak resident set size of this process since the last reset, in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> None:
    """Make the current resident set size the new peak (Linux ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


class Stages:
    """Runs named stages, recording wall seconds and peak memory of each."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, call: Callable[[], Any]) -> Any:
        reset_peak()
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
        self.rows.append({"stage": name, "seconds": seconds, "peak_gb": peak_rss_gb()})
        print(f"    {name}: {seconds:.1f} s, peak {self.rows[-1]['peak_gb']:.2f} GB", flush=True)
        return result


def cleaned(raw: pd.DataFrame) -> pd.DataFrame:
    """The clean listings of ``raw``."""
    return clean_listings(raw).clean


def split(clean: pd.DataFrame) -> list[pd.DataFrame]:
    """Train and test rows, as ``train_test`` splits them."""
    parts = train_test_split(clean, test_size=0.2, random_state=SEED)
    return [part.reset_index(drop=True) for part in parts]


def one_size(n: int, bundle_only: bool) -> dict[str, Any]:
    """Every stage at ``n`` raw rows; the table rows, bundle size and handler latency.

    ``bundle_only`` replaces the candidates by one short ``comparables`` fit (``QUICK_ITER``
    boosting steps, no CV): the lattice and the reference are built from every training row, as
    in the full fit, so the bundle's size and latency are the champion's, in minutes.
    """
    stages = Stages()
    raw = stages.run("generate", lambda: generate_raw_listings(n))
    clean = stages.run("clean", partial(cleaned, raw))
    del raw
    train, test = stages.run("split", partial(split, clean))
    del clean
    X, y = split_features_target(train)
    fitted = {}
    if bundle_only:

        def quick() -> Any:
            with threadpool_limits(limits=1):
                return CANDIDATES["comparables"].build(max_iter=QUICK_ITER).fit(X, y)

        fitted["comparables"] = stages.run(f"comparables (max_iter={QUICK_ITER}, no CV)", quick)
    for name, spec in {} if bundle_only else CANDIDATES.items():

        def candidate(spec: Any = spec) -> Any:
            with threadpool_limits(limits=1):
                model = fit_candidate(spec, train, seed=SEED).estimator
                cross_validate(model, X, y, 5, SEED)
            return model

        fitted[name] = stages.run(name, candidate)
    X_test, y_test = split_features_target(test)

    def champion() -> str:
        scores = {
            name: regression_metrics(y_test, model.predict(X_test))["rmse"]
            for name, model in fitted.items()
        }
        return min(scores, key=scores.__getitem__)

    best = stages.run("champion", champion)
    tmp = Path(tempfile.mkdtemp(prefix="bh-pricing-scale-"))
    exported = stages.run(
        "bundle",
        lambda: export_bundle(
            fitted[best],
            str(tmp / "bundles"),
            model_version="1",
            run_id="scale-benchmark",
            test_metrics={},
            known_neighborhoods=sorted(X["neighborhood"].unique()),
            check_frame=test,
        ),
    )
    bundle_mb = sum(f.stat().st_size for f in Path(exported.uri).iterdir()) / 1e6
    latency = stages.run("handler", lambda: handler_p50(tmp, X_test))
    return {
        "n": n,
        "train_rows": len(train),
        "champion": best,
        "stages": stages.rows,
        "bundle_mb": bundle_mb,
        "parity": exported.parity.max_relative_error,
        "handler_p50_ms": latency,
    }


def handler_p50(tmp: Path, X_test: pd.DataFrame, requests: int = 500) -> float:
    """Warm p50 in ms of a 1-row POST /predict through the Lambda handler."""
    row = X_test.head(1).astype(object).where(X_test.head(1).notna(), None).to_dict("records")[0]
    # The event API Gateway (HTTP API v2) sends for POST /predict, as the smoke check sends it:
    # an incomplete event would be taken for a warmer and never reach the model.
    event = predict_event([row])
    settings = ServingSettings(str(tmp / "bundles"), str(tmp / "log"), retry_seconds=0)
    lambda_handler.reset_service(PricingService(settings))
    answer = handler(event, None)
    if answer.get("statusCode") != 200 or '"prices"' not in answer.get("body", ""):
        raise RuntimeError(f"the handler did not price the row: {answer}")
    for _ in range(50):
        handler(event, None)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        handler(event, None)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50))


def all_pairs_level(X: np.ndarray, y: np.ndarray, bandwidths_m: tuple[float, ...]) -> np.ndarray:
    """The former ``SpatialPriceLevel.fit_transform``: every row against every row, left-one-out."""
    located = ~np.isnan(X[:, :2]).any(axis=1)
    level = y - np.log(X[:, 2])
    reference, levels = planar_metres(X[located, 0], X[located, 1]), level[located]
    query = planar_metres(X[:, 0], X[:, 1])
    own = np.full(len(X), np.nan)
    own[located] = levels
    out = np.full((len(X), 2 * len(bandwidths_m)), np.nan)
    for start in range(0, len(X), 512):
        rows = slice(start, start + 512)
        distance2 = (query[rows, None, 0] - reference[None, :, 0]) ** 2 + (
            query[rows, None, 1] - reference[None, :, 1]
        ) ** 2
        for band, h in enumerate(bandwidths_m):
            weights = np.exp(-distance2 / (2.0 * h * h))
            mass, weighted = weights.sum(axis=1), weights @ levels
            mine = ~np.isnan(own[rows])
            mass[mine] -= 1.0
            weighted[mine] -= own[rows][mine]
            out[rows, 2 * band] = (weighted + level.mean()) / (mass + 1.0)
            out[rows, 2 * band + 1] = np.log1p(mass)
    return out


def reference_rows(sizes: list[int]) -> list[dict[str, Any]]:
    """Seconds of the all-pairs and the lattice feature on ``sizes`` clean training rows."""
    clean = clean_listings(generate_raw_listings(int(max(sizes) * 1.25) + 1000)).clean
    rows = []
    for n in sizes:
        part = clean.head(n)
        X = part.loc[:, list(SPATIAL_COLUMNS)].to_numpy(np.float64)
        y = np.log(part["price"].to_numpy(np.float64))
        timed = {}
        with threadpool_limits(limits=1):
            for name, call in (
                ("all_pairs_s", partial(all_pairs_level, X, y, (200.0, 800.0))),
                ("lattice_s", partial(SpatialPriceLevel().fit_transform, X, y)),
            ):
                started = time.perf_counter()
                call()
                timed[name] = time.perf_counter() - started
        rows.append({"n": n, **timed})
        print(f"  reference {n}: {timed}", flush=True)
    return rows


def slope(ns: list[float], seconds: list[float]) -> float:
    """Fitted exponent b of seconds ≈ a · n^b (least squares on logs)."""
    if len(ns) < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def stage_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    """Stages as rows, ``seconds`` and ``peak GB`` per size as columns, slope last."""
    ns = [r["n"] for r in results]
    frames = {r["n"]: pd.DataFrame(r["stages"]).set_index("stage") for r in results}
    stages = list(frames[ns[0]].index)
    table = pd.DataFrame(index=[*stages, "total (sum of stages)"])
    for n in ns:
        frame = frames[n]
        seconds = [*frame["seconds"], frame["seconds"].sum()]
        peaks = [*frame["peak_gb"], frame["peak_gb"].max()]
        table[f"{n:,} s"] = [f"{s:.1f}" for s in seconds]
        table[f"{n:,} peak GB"] = [f"{p:.2f}" for p in peaks]
    table["slope"] = [
        f"{slope(ns, [frames[n].loc[stage, 'seconds'] for n in ns]):.2f}" for stage in stages
    ] + [f"{slope(ns, [frames[n]['seconds'].sum() for n in ns]):.2f}"]
    return table


def main() -> None:
    """Run every size in its own interpreter, then print the tables and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--reference", type=int, nargs="*", default=[10_000, 20_000, 40_000])
    parser.add_argument(
        "--bundle-only",
        action="store_true",
        help=f"one comparables fit with {QUICK_ITER} boosting steps instead of every candidate",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one_size(args.one, args.bundle_only)), flush=True)
        return

    results = []
    for n in args.sizes:
        print(f"{n:,} raw listings:", flush=True)
        with subprocess.Popen(
            [sys.executable, __file__, "--one", str(n), *(["--bundle-only"] * args.bundle_only)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ) as child:
            assert child.stdout is not None
            lines = []
            for line in child.stdout:
                lines.append(line)
                if line.startswith("    "):
                    print(line, end="", flush=True)
        if child.returncode != 0:
            raise SystemExit(f"size {n} failed with exit code {child.returncode}")
        (line,) = [x for x in lines if x.startswith("RESULT ")]
        results.append(json.loads(line.removeprefix("RESULT ")))
    reference = reference_rows(args.reference) if args.reference else []

    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print("\nTime (s) and peak memory (GB) per stage; slope = fitted exponent of time vs n\n")
    print(stage_table(results).to_markdown())
    print(
        "\n| raw rows | train rows | champion | bundle MB | parity max rel. error | "
        "handler 1-row p50 ms |"
    )
    print("|---:|---:|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['n']:,} | {r['train_rows']:,} | {r['champion']} | {r['bundle_mb']:.2f} | "
            f"{r['parity']:.1e} | {r['handler_p50_ms']:.2f} |"
        )
    if reference:
        ns = [r["n"] for r in reference]
        old = [r["all_pairs_s"] for r in reference]
        new = [r["lattice_s"] for r in reference]
        old_slope = slope(ns, old)
        projected = old[-1] * (1_000_000 / ns[-1]) ** old_slope
        print("\nReference: the local price level on training rows (fit_transform, 1 thread)\n")
        print("| train rows | all-pairs (before) s | lattice (now) s |")
        print("|---:|---:|---:|")
        for n, a, b in zip(ns, old, new, strict=True):
            print(f"| {n:,} | {a:.2f} | {b:.2f} |")
        print(
            f"| 1,000,000 (projected) | {projected:,.0f} ({projected / 3600:.1f} h) | "
            f"see the stage table |"
        )
        print(f"\nslope all-pairs {old_slope:.2f}, lattice {slope(ns, new):.2f}")

    largest = max(results, key=lambda r: r["n"])
    total = sum(s["seconds"] for s in largest["stages"])
    peak = max(s["peak_gb"] for s in largest["stages"])
    print()
    if largest["n"] >= 1_000_000 and not args.bundle_only:
        print(
            f"1 M rows: {total / 60:.1f} min (target <= 15): "
            f"{'PASS' if total <= TARGET_SECONDS_1M else 'FAIL'}"
        )
        print(
            f"1 M rows: peak {peak:.2f} GB (target <= 8): "
            f"{'PASS' if peak <= TARGET_PEAK_GB else 'FAIL'}"
        )
    biggest_bundle = max(r["bundle_mb"] for r in results)
    print(
        f"bundle: at most {biggest_bundle:.2f} MB (target <= 25): "
        f"{'PASS' if biggest_bundle <= TARGET_BUNDLE_MB else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
