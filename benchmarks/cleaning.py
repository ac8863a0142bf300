"""Read + clean time and peak memory at 10 k / 100 k / 1 M generated rows, new vs reference.

For each size the sample generator (``sample:<rows>``, seed 0) writes a raw CSV to a temporary
folder; then each implementation reads and cleans that file in a fresh interpreter, whose peak
resident set (Linux ``VmHWM``, reset after imports through ``/proc/self/clear_refs``) is its own:

- ``new``: ``bh_pricing.io.raw_sources.read_raw_listings`` (pyarrow) and
  ``bh_pricing.core.cleaning.clean_listings`` (the listing contract);
- ``reference``: ``pandas.read_csv(dtype=str, keep_default_na=False)`` and the cleaning module
  of commit 284be4f (``git show 284be4f:bh_pricing/core/cleaning.py``, imported from a temporary
  copy).

"memory" is the peak resident set during read + clean minus the resident set after imports, i.e.
what reading and cleaning added. Targets (issue 13): 1 M rows in <= 5 s and <= 1 GB. Timings on
a shared machine are noisy: compare ratios within one run.

    python benchmarks/cleaning.py [--rows 10000 100000 1000000] [--raw data.csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_COMMIT = "284be4f"
TARGET_SECONDS = 5.0
TARGET_MB = 1000.0

CHILD = """
import json, sys, time
implementation, csv_path, reference = sys.argv[1:4]

def status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

import numpy, pandas, pyarrow
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.io.raw_sources import read_raw_listings
if implementation == "reference":
    import importlib.util
    spec = importlib.util.spec_from_file_location("reference_cleaning", reference)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reference_cleaning"] = module
    spec.loader.exec_module(module)
before = status_mb("VmRSS")
with open("/proc/self/clear_refs", "w") as clear_refs:
    clear_refs.write("5")  # resets the peak resident set (VmHWM) to the current one
started = time.perf_counter()
if implementation == "new":
    raw = read_raw_listings(csv_path).frame
    result = clean_listings(raw)
else:
    raw = pandas.read_csv(csv_path, dtype=str, keep_default_na=False)
    result = module.clean_listings(raw)
seconds = time.perf_counter() - started
peak = status_mb("VmHWM")
print(json.dumps({
    "seconds": seconds, "added_mb": peak - before, "peak_mb": peak,
    "raw": len(raw), "clean": len(result.clean), "quarantined": len(result.quarantined),
}))
"""


def reference_module(folder: Path) -> Path:
    """The reference cleaning module, written from git into ``folder``."""
    source = subprocess.run(
        ["git", "show", f"{REFERENCE_COMMIT}:bh_pricing/core/cleaning.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / "reference_cleaning.py"
    path.write_text(source)
    return path


def measure(implementation: str, csv_path: Path, reference: Path) -> dict[str, float]:
    """Run one read + clean in a fresh interpreter; its timing, memory and row counts."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, implementation, str(csv_path), str(reference)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{implementation} on {csv_path} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_sample(rows: int, folder: Path) -> Path:
    """The generated raw listings (``sample:<rows>``, seed 0) as a CSV file."""
    from bh_pricing.io.raw_sources import read_raw_listings

    path = folder / f"sample-{rows}.csv"
    read_raw_listings(f"sample:{rows}").frame.to_csv(path, index=False)
    return path


def main() -> None:
    """Print one table row per size and implementation, and whether 1 M rows meet the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--raw", type=Path, help="also measure this CSV (e.g. the real file)")
    args = parser.parse_args()
    if importlib.util.find_spec("bh_pricing") is None:
        sys.exit("run from the project's environment (make install)")
    lines = [
        "| rows | implementation | read+clean s | memory MB (added) | peak RSS MB "
        "| clean | quarantined | accounted |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="bh-pricing-cleaning-") as tmp:
        folder = Path(tmp)
        reference = reference_module(folder)
        inputs = [(f"{rows:,}", write_sample(rows, folder)) for rows in args.rows]
        if args.raw:
            inputs.append((f"{args.raw.name}", args.raw))
        results = {}
        for label, path in inputs:
            for implementation in ("reference", "new"):
                got = measure(implementation, path, reference)
                results[label, implementation] = got
                accounted = got["clean"] + got["quarantined"] == got["raw"]
                lines.append(
                    f"| {label} | {implementation} | {got['seconds']:.2f} | "
                    f"{got['added_mb']:.0f} | {got['peak_mb']:.0f} | {got['clean']:,} | "
                    f"{got['quarantined']:,} | {'yes' if accounted else 'NO'} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    for label, _ in inputs:
        new, old = results[label, "new"], results[label, "reference"]
        print(
            f"{label}: new takes {new['seconds'] / old['seconds']:.2f}x the reference's time "
            f"and {new['added_mb'] / max(old['added_mb'], 1):.2f}x its memory"
        )
    if "1,000,000" in {label for label, _ in inputs}:
        new = results["1,000,000", "new"]
        met = new["seconds"] <= TARGET_SECONDS and new["added_mb"] <= TARGET_MB
        print(
            f"target at 1 M rows: <= {TARGET_SECONDS:g} s and <= {TARGET_MB:g} MB -> "
            f"{'met' if met else 'NOT met'} ({new['seconds']:.2f} s, {new['added_mb']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
