"""Read and clean time and peak memory at 10 k / 100 k / 1 M generated rows, new vs reference.

For each size the sample generator (``sample:<rows>``, seed 0) writes a raw CSV to a temporary
folder (its time is printed apart: it is not part of a run on real data); then each
implementation reads and cleans that file in a fresh interpreter, one stage after the other:

- ``read``: the CSV into a frame; ``new``: ``bh_pricing.io.raw_sources.read_raw_listings``
  (pyarrow), ``reference``: ``pandas.read_csv(dtype=str, keep_default_na=False)``;
- ``clean``: ``clean_listings`` on that frame, Pandera validation of the clean listings
  included; ``new``: ``bh_pricing.core.cleaning``; ``before``: the cleaning module as it was
  before the work on issue 13's cleaning target (commit 08934b0, read with pyarrow like
  ``new``); ``reference``: the cleaning module of commit 284be4f. Earlier modules are written
  from git (``git show <commit>:bh_pricing/core/cleaning.py``) and imported from a temporary
  copy.

Per stage: wall-clock seconds, CPU seconds of the process (all its threads; less sensitive than
wall time to other work on a shared machine) and the peak resident set the stage added (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` before the stage, minus the resident set at
its start). "read+clean MB" is the peak over both stages minus the resident set after imports.

Target (issue 13): cleaning 1 M rows in <= 5 s and <= 1 GB; before this work ``clean_listings``
took 15.3 s and 1.96 GB there (``ISSUE_REFERENCE``). Timings on a shared machine are noisy:
compare ratios within one run, and CPU seconds.

    python benchmarks/cleaning.py [--rows 10000 100000 1000000] [--raw data.csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Earlier cleaning modules measured beside the current one, and how each run reads the CSV.
EARLIER = {"reference": "284be4f", "before": "08934b0"}
TARGET_SECONDS = 5.0
TARGET_MB = 1000.0
# clean_listings on 1 M generated rows before the work on issue 13: seconds, MB.
ISSUE_REFERENCE = (15.3, 1960.0)

CHILD = """
import json, sys, time
implementation, csv_path, module_path = sys.argv[1:4]

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

def reset_peak():
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets the peak resident set (VmHWM) to the current one

def stage(run):
    reset_peak()
    start_mb, wall, cpu = status_mb("VmRSS"), time.perf_counter(), time.process_time()
    value = run()
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    peak = status_mb("VmHWM")
    return value, {"seconds": seconds, "cpu": cpu_seconds, "added_mb": peak - start_mb}, peak

import numpy, pandas, pyarrow
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.io.raw_sources import read_raw_listings
read = lambda: read_raw_listings(csv_path).frame
clean = clean_listings
if implementation != "new":
    import importlib.util
    spec = importlib.util.spec_from_file_location("earlier_cleaning", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["earlier_cleaning"] = module
    spec.loader.exec_module(module)
    clean = module.clean_listings
if implementation == "reference":
    read = lambda: pandas.read_csv(csv_path, dtype=str, keep_default_na=False)
before = status_mb("VmRSS")
raw, read_stage, read_peak = stage(read)
result, clean_stage, clean_peak = stage(lambda: clean(raw))
print(json.dumps({
    "read": read_stage, "clean": clean_stage,
    "added_mb": max(read_peak, clean_peak) - before, "peak_mb": max(read_peak, clean_peak),
    "raw": len(raw), "clean_rows": len(result.clean), "quarantined": len(result.quarantined),
}))
"""


def earlier_module(commit: str, folder: Path) -> Path:
    """The cleaning module of ``commit``, written from git into ``folder``."""
    source = subprocess.run(
        ["git", "show", f"{commit}:bh_pricing/core/cleaning.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / f"cleaning_{commit}.py"
    path.write_text(source)
    return path


def measure(implementation: str, csv_path: Path, module: Path | None) -> dict:
    """Read and clean once in a fresh interpreter; per-stage timing and memory, row counts."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, implementation, str(csv_path), str(module or "")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{implementation} on {csv_path} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_sample(rows: int, folder: Path) -> tuple[Path, float]:
    """The generated raw listings (``sample:<rows>``, seed 0) as a CSV file; seconds taken."""
    from bh_pricing.io.raw_sources import read_raw_listings

    started = time.perf_counter()
    path = folder / f"sample-{rows}.csv"
    read_raw_listings(f"sample:{rows}").frame.to_csv(path, index=False)
    return path, time.perf_counter() - started


def row(label: str, implementation: str, got: dict) -> str:
    """One table row: per-stage time and memory, then the rows accounted for."""
    read, clean = got["read"], got["clean"]
    accounted = got["clean_rows"] + got["quarantined"] == got["raw"]
    return (
        f"| {label} | {implementation} | {read['seconds']:.2f} | {read['cpu']:.2f} | "
        f"{read['added_mb']:.0f} | {clean['seconds']:.2f} | {clean['cpu']:.2f} | "
        f"{clean['added_mb']:.0f} | {read['seconds'] + clean['seconds']:.2f} | "
        f"{got['added_mb']:.0f} | {got['clean_rows']:,} | {got['quarantined']:,} | "
        f"{got['raw']:,} | {'yes' if accounted else 'NO'} |"
    )


def main() -> None:
    """Print one table row per size and implementation, and whether 1 M rows meet the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--raw", type=Path, help="also measure this CSV (e.g. the real file)")
    args = parser.parse_args()
    if importlib.util.find_spec("bh_pricing") is None:
        sys.exit("run from the project's environment (make install)")
    lines = [
        "| rows | implementation | read s | read CPU s | read MB | clean s | clean CPU s "
        "| clean MB | read+clean s | read+clean MB | clean | quarantined | total | accounted |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    seconds, megabytes = ISSUE_REFERENCE
    lines.append(
        f"| 1,000,000 | before, as measured in issue 13 | | | | {seconds:.2f} | | "
        f"{megabytes:.0f} | | | | | | |"
    )
    with tempfile.TemporaryDirectory(prefix="bh-pricing-cleaning-") as tmp:
        folder = Path(tmp)
        modules = {name: earlier_module(commit, folder) for name, commit in EARLIER.items()}
        inputs = []
        for rows in args.rows:
            path, generated = write_sample(rows, folder)
            print(f"sample:{rows} generated and written as CSV in {generated:.2f} s", flush=True)
            inputs.append((f"{rows:,}", path))
        if args.raw:
            inputs.append((f"{args.raw.name}", args.raw))
        results = {}
        for label, path in inputs:
            for implementation in (*EARLIER, "new"):
                got = measure(implementation, path, modules.get(implementation))
                results[label, implementation] = got
                lines.append(row(label, implementation, got))
                print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    for label, _ in inputs:
        new = results[label, "new"]["clean"]
        for name in EARLIER:
            old = results[label, name]["clean"]
            print(
                f"{label}: new cleaning takes {new['seconds'] / old['seconds']:.2f}x the time "
                f"of {name} ({new['cpu'] / old['cpu']:.2f}x its CPU) and "
                f"{new['added_mb'] / max(old['added_mb'], 1):.2f}x its memory"
            )
    if "1,000,000" in {label for label, _ in inputs}:
        clean = results["1,000,000", "new"]["clean"]
        met = clean["seconds"] <= TARGET_SECONDS and clean["added_mb"] <= TARGET_MB
        print(
            f"target, cleaning 1 M rows: <= {TARGET_SECONDS:g} s and <= {TARGET_MB:g} MB -> "
            f"{'met' if met else 'NOT met'} ({clean['seconds']:.2f} s, {clean['cpu']:.2f} CPU s, "
            f"{clean['added_mb']:.0f} MB; before: {seconds:g} s, {megabytes:.0f} MB)"
        )


if __name__ == "__main__":
    main()
