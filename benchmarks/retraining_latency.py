"""Time from a drift result to the start of the retraining run it triggers, in the local
deployment driven by the real daemon (code servers, webserver and daemon on loopback, as
``make dev`` runs them, in temporary homes).

The stack and the probes are those of the integration test
(bh_pricing_tests/topology/test_local_daemon.py). The production line is materialized once,
then ``--batches`` CSVs with prices raised by 40 % are landed one after the other, each once the
previous retraining has finished. The manual promotion policy and no cooldown keep the champion,
hence the drift reference, fixed, so every batch drifts alike and triggers one retraining.

Per batch: seconds from the drift report (what ``retraining_sensor`` reads) to the run's
creation by the sensor, and to the start of the run's process (after the run queue and the
process start-up). Target: the retraining starts within one sensor interval, <= 30 s.

    python benchmarks/retraining_latency.py [--batches 3] [--target 30] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd

# The stack helpers live with the tests, which are not installed: import them from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bh_pricing_tests.topology.drift_loop import (
    LANDING_SENSOR,
    RETRAINING_SENSOR,
    follow_to_retraining,
)
from bh_pricing_tests.topology.local_stack import LocalStack, running_local_stack
from bh_pricing_tests.topology.scenario import materialize_production_line, shifted_batch_csv

TARGET_SECONDS = 30.0
STAGE_TIMEOUT, RUN_TIMEOUT = 300.0, 900.0
SETTINGS = {"BH_PRICING_PROMOTION_POLICY": "manual", "BH_PRICING_RETRAIN_COOLDOWN_SECONDS": "0"}


def measure(stack: LocalStack, name: str, seed: int) -> dict[str, object]:
    """Land one shifted batch and follow it to its finished retraining; one table row."""
    batch = stack.land(name, shifted_batch_csv(1.4, seed=seed))
    trace = follow_to_retraining(stack.dagster, batch, STAGE_TIMEOUT)
    retraining, latency = trace.retraining, trace.latency
    finished = stack.dagster.wait_for_run(retraining.run_id, RUN_TIMEOUT)
    if finished.status != "SUCCESS":
        raise SystemExit(f"{batch}: retraining {retraining.run_id} ended {finished.status}")
    return {
        "batch": batch,
        "sensor_wait_s": latency.launched,
        "queue_and_start_s": latency.started - latency.launched,
        "drift_to_start_s": latency.started,
    }


def main() -> None:
    """Parse arguments, run the loop ``--batches`` times, print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=3, help="shifted batches to land")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes and logs")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bh_pricing_retraining_"))
    try:
        with running_local_stack(root, SETTINGS) as stack:
            materialize_production_line(stack)
            rows = [
                measure(stack, f"market-bench-{i + 1:02d}.csv", seed=101 + i)
                for i in range(args.batches)
            ]
            intervals = stack.dagster.sensor_intervals()
    finally:
        if args.keep:
            print(f"kept {root} (service logs in logs/)")
        else:
            shutil.rmtree(root, ignore_errors=True)

    table = pd.DataFrame(rows).set_index("batch")
    worst = float(table["drift_to_start_s"].max())
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"sensor minimum intervals: {LANDING_SENSOR} {intervals[LANDING_SENSOR]} s, "
        f"{RETRAINING_SENSOR} {intervals[RETRAINING_SENSOR]} s"
    )
    print()
    print(table.round(1).to_markdown())
    print()
    print(
        f"drift -> retraining start, median: {statistics.median(table['drift_to_start_s']):5.1f} s"
    )
    print(f"drift -> retraining start, worst:  {worst:5.1f} s")
    verdict = "PASS" if worst <= args.target else "FAIL"
    print(f"target <= {args.target:.0f} s (worst batch): {verdict}")


if __name__ == "__main__":
    main()
