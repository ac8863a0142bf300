"""Cold wall time and peak memory of materializing the whole asset graph, with every step.

A fresh ``BH_PRICING_HOME`` and ``DAGSTER_HOME`` (temporary folders) are used, and the documented
run command runs as a subprocess, so interpreter start-up, imports and the executor's process
start-up all count:

    dagster job execute -m bh_pricing.definitions -j build_graph

Step durations come from the run's ``STEP_START`` / ``STEP_SUCCESS`` events in the instance of
that ``DAGSTER_HOME``. Peak memory is the largest sum of resident set sizes of the CLI and all its
descendants (the executor's step processes), sampled every 0.2 s with psutil. Timings on a shared
machine are noisy: compare ratios within a run.

Targets: the default sample (5,981 rows) within 60 s; the whole graph on a million generated
listings within 15 min and 8 GB (issue #13):

    python benchmarks/pipeline_time.py [--raw data.csv | sample:1000000] [--target 60]
                                       [--target-gb 8] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
from dagster import DagsterEventType, DagsterInstance, EventLogEntry

TARGET_SECONDS = 60.0
TARGET_PEAK_GB = 8.0
SAMPLE_SECONDS = 0.2
DAGSTER = Path(sys.executable).with_name("dagster")


def tree_rss_bytes(process: psutil.Process) -> int:
    """Resident set size of ``process`` and all its descendants, in bytes (processes that end
    while being read count as zero)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return total


def materialize(raw: str, root: Path) -> tuple[float, int, int, str]:
    """Run the job with fresh homes under ``root``: wall seconds, peak bytes of the process
    tree, exit code and the end of its output."""
    dagster_home = root / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text("")  # defaults, without the CLI's warning
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "BH_PRICING_HOME": str(root / "bh_pricing_home"),
        "BH_PRICING_RAW_URI": raw,
        "BH_PRICING_ENV": "local",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [str(DAGSTER), "job", "execute", "-m", "bh_pricing.definitions", "-j", "build_graph"]
    log = root / "run.log"
    start = time.perf_counter()
    with log.open("w") as output:
        cli = psutil.Popen(command, env=env, cwd=root, stdout=output, stderr=subprocess.STDOUT)
        peak = 0
        while cli.poll() is None:
            peak = max(peak, tree_rss_bytes(cli))
            time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - start
    return wall, peak, cli.returncode, log.read_text()[-8000:]


def step_durations(dagster_home: Path) -> pd.DataFrame:
    """One row per step of the (only) run: start offset and duration, in seconds."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        with DagsterInstance.get() as instance:
            (run,) = instance.get_runs()
            kinds = {
                DagsterEventType.RUN_START,
                DagsterEventType.STEP_START,
                DagsterEventType.STEP_SUCCESS,
            }
            entries = instance.all_logs(run.run_id, of_type=kinds)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    by_kind: dict[DagsterEventType, list[EventLogEntry]] = {kind: [] for kind in kinds}
    for entry in entries:
        by_kind[entry.dagster_event.event_type].append(entry)
    run_start = min(e.timestamp for e in by_kind[DagsterEventType.RUN_START])
    starts = {e.step_key: e.timestamp for e in by_kind[DagsterEventType.STEP_START]}
    rows = [
        {
            "step": e.step_key,
            "starts_at_s": starts[e.step_key] - run_start,
            "duration_s": e.dagster_event.event_specific_data.duration_ms / 1000,
        }
        for e in by_kind[DagsterEventType.STEP_SUCCESS]
    ]
    table = pd.DataFrame(rows).sort_values("starts_at_s").set_index("step")
    table["ends_at_s"] = table["starts_at_s"] + table["duration_s"]
    return table


def main() -> None:
    """Parse arguments, time one cold materialization, print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default="sample", help="raw source URI (default: sample)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds")
    parser.add_argument("--target-gb", type=float, default=TARGET_PEAK_GB, help="peak memory, GB")
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes")
    args = parser.parse_args()
    raw = str(Path(args.raw).resolve()) if Path(args.raw).exists() else args.raw

    root = Path(tempfile.mkdtemp(prefix="bh_pricing_timing_"))
    try:
        wall, peak, returncode, output = materialize(raw, root)
        if returncode != 0:
            sys.stderr.write(output)
            raise SystemExit(f"materialization failed with exit code {returncode}")
        steps = step_durations(root / "dagster_home")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    run_span = float(steps["ends_at_s"].max())
    load = os.getloadavg()[0]
    print(f"job build_graph, raw source {raw}")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print()
    print(steps.round(1).to_markdown())
    print()
    print(f"steps (first start to last end): {run_span:6.1f} s")
    print(f"start-up and teardown outside:   {wall - run_span:6.1f} s")
    print(f"cold wall time:                  {wall:6.1f} s")
    print(f"peak memory (process tree):      {peak / 1e9:6.2f} GB")
    print()
    for name, value, target, unit in (
        ("wall time", wall, args.target, "s"),
        ("peak memory", peak / 1e9, args.target_gb, "GB"),
    ):
        verdict = "PASS" if value <= target else "FAIL"
        print(f"{name} {value:.1f} {unit}, target <= {target:g} {unit}: {verdict}")


if __name__ == "__main__":
    main()
