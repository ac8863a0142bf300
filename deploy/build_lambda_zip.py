"""Build the zip package of the prediction Lambda, print its unzipped size, and try it.

    python deploy/build_lambda_zip.py [--out build/lambda] [--python-version 3.12]
        [--check-python PATH | --no-self-check]

Installs only ``deploy/lambda-requirements.txt`` (manylinux x86_64 wheels for the Lambda Python
version) plus the ``bh_pricing.serving`` runtime into a folder, prunes what the handler never
imports, zips it, and fails when the unzipped size exceeds Lambda's 250 MB limit. Python 3.12
because the python3.12 runtime runs on Amazon Linux 2023, whose glibc accepts current onnxruntime
wheels (manylinux_2_28).

Self-check: the zip is unpacked into a temporary folder and an isolated interpreter of the same
Python version (``-I -S``: no site-packages, no PYTHON* variables; only that folder on the path)
imports the handler from it and answers ``POST /predict`` with a freshly exported bundle; the price
must match scikit-learn's, and every module it loaded must come from the folder or the standard
library. The interpreter is ``python<version>`` from PATH unless ``--check-python`` names one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "deploy" / "lambda-requirements.txt"
LIMIT_MB = 250
TARGET_MB = 100
# The serving package and the modules it imports from bh_pricing; the export side is left out.
SOURCES = (
    "bh_pricing/__init__.py",
    "bh_pricing/constants.py",
    "bh_pricing/contract/__init__.py",
    "bh_pricing/contract/listing.py",
    "bh_pricing/contract/neighborhood.py",
    "bh_pricing/contract/values.py",
    "bh_pricing/io/__init__.py",
    "bh_pricing/io/storage.py",
    "bh_pricing/core/__init__.py",
    "bh_pricing/core/intervals.py",
)
SERVING_EXCLUDE = (
    "bundle.py",
    "onnx_convert.py",
    "log_reader.py",
    "smoke.py",  # the post-publication smoke check runs in Dagster, not in the function
    "smoke_endpoints.py",
)
# Installed files the handler never imports: caches, tests, onnxruntime's model tooling, f2py.
PRUNE = (
    "__pycache__",
    "tests",
    "*.pyi",
    "bin",
    "numpy/f2py",
    "numpy/_core/_simd.*.so",  # SIMD test helpers
    "numpy/_core/include",  # C headers and static libraries for building extensions
    "numpy/_core/lib",
    "numpy/_pyinstaller",
    "numpy/random/_examples",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/datasets",
    "onnxruntime/backend",  # the ONNX backend test API; needs the onnx package
    # The C/C++ API library (35 MB): onnxruntime_pybind11_state links the runtime statically.
    "onnxruntime/capi/libonnxruntime.so*",
)
SELF_CHECK = """
import json, sys, sysconfig
package = sys.argv[1]
sys.path.insert(0, package)
from bh_pricing.serving import handler
event = {
    "resource": "/{proxy+}", "path": "/predict", "httpMethod": "POST",
    "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
    "queryStringParameters": None, "pathParameters": {"proxy": "predict"},
    "requestContext": {"stage": "prod", "requestId": "self-check", "path": "/prod/predict"},
    "body": sys.argv[2], "isBase64Encoded": False,
}
response = handler(event, None)
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
files = {getattr(m, "__file__", None) for m in list(sys.modules.values())} - {None}
outside = sorted(
    f for f in files
    if not f.startswith(package) and (not f.startswith(stdlib) or "-packages" in f)
)
print(json.dumps({"response": response, "outside": outside}))
"""


def install(target: Path, python_version: str) -> None:
    """pip-install the runtime requirements for Lambda's platform into ``target``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--no-warn-conflicts",
            "--target",
            str(target),
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )


def copy_sources(target: Path) -> None:
    """Copy ``SOURCES`` and the serving runtime modules."""
    for source in SOURCES:
        destination = target / source
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / source, destination)
    serving = target / "bh_pricing" / "serving"
    serving.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "bh_pricing" / "serving").iterdir():
        if path.suffix in (".py", ".json") and path.name not in SERVING_EXCLUDE:
            shutil.copy2(path, serving / path.name)


def prune(target: Path) -> None:
    """Remove caches and test folders of the installed packages."""
    for pattern in PRUNE:
        for path in sorted(target.rglob(pattern), reverse=True):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def size_mb(folder: Path) -> float:
    """Total size of the files under ``folder`` in MB (10^6 bytes, as Lambda counts)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def make_zip(folder: Path, archive: Path) -> None:
    """Zip the folder's content (paths relative to it, as Lambda expects)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder))


def build(out: Path, python_version: str = "3.12") -> tuple[Path, float]:
    """Build ``out/package`` and ``out/bh-pricing-serving.zip``; return the zip and unzipped MB."""
    package = out / "package"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    install(package, python_version)
    copy_sources(package)
    prune(package)
    archive = out / "bh-pricing-serving.zip"
    archive.unlink(missing_ok=True)
    make_zip(package, archive)
    return archive, size_mb(package)


def self_check(archive: Path, python: str) -> dict[str, Any]:
    """Unzip ``archive`` and answer /predict from it in an isolated ``python``; raise on mismatch.

    Returns the response body. Needs the export side (scikit-learn, skl2onnx) in this interpreter
    to fit and export the small bundle the handler serves.
    """
    from bh_pricing.core.cleaning import clean_listings
    from bh_pricing.core.intervals import ConformalInterval
    from bh_pricing.core.models import CANDIDATES, split_features_target
    from bh_pricing.core.sample import generate_raw_listings
    from bh_pricing.serving.bundle import export_bundle

    listings = clean_listings(generate_raw_listings(400, seed=1)).clean
    X, y = split_features_target(listings)
    estimator = CANDIDATES["comparables"].build(max_iter=50).fit(X, y)  # the champion type
    row = X.head(1)
    listing = {k: (None if v != v else v) for k, v in row.iloc[0].to_dict().items()}
    expected = float(estimator.predict(row)[0])
    with tempfile.TemporaryDirectory(prefix="bh-pricing-lambda-check-") as tmp:
        bundle = export_bundle(
            estimator,
            str(Path(tmp, "bundles")),
            model_version="0",
            run_id="self-check",
            test_metrics={},
            known_neighborhoods=sorted(X["neighborhood"].unique()),
            interval=ConformalInterval(0.8, 0.2, 400, "self-check"),
            check_frame=listings,
        )
        unpacked = Path(tmp, "package")
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "BH_PRICING_MODEL_URI": bundle.root,
            "BH_PRICING_PREDICTION_LOG_URI": str(Path(tmp, "log")),
            "BH_PRICING_LOG_MAX_RECORDS": "1",
        }
        command = [python, "-I", "-S", "-B", "-c", SELF_CHECK, str(unpacked), json.dumps(listing)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the packaged handler failed in {python}:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        logged = list(Path(tmp, "log").rglob("*.jsonl"))
    response, outside = result["response"], result["outside"]
    body = json.loads(response["body"])
    if response["statusCode"] != 200:
        raise RuntimeError(f"the packaged handler answered {response['statusCode']}: {body}")
    if abs(body["price"] - expected) > 1e-3 * abs(expected) + 0.01:
        raise RuntimeError(f"packaged price {body['price']} differs from scikit-learn {expected}")
    if not body["interval"]["low"] < body["price"] < body["interval"]["high"]:
        raise RuntimeError(f"packaged interval {body['interval']} does not hold the price")
    if outside:
        raise RuntimeError(f"modules loaded from outside the package: {outside[:10]}")
    if len(logged) != 1:
        raise RuntimeError(f"expected one prediction log file, found {len(logged)}")
    return body


def check_interpreter(python_version: str, explicit: str | None) -> str | None:
    """``explicit``, else this interpreter if its version matches, else ``python<version>``."""
    if explicit:
        return explicit
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    return shutil.which(f"python{python_version}")


def main() -> None:
    """Build, print sizes, fail above the Lambda limit, then answer /predict from the zip."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--check-python", help="interpreter for the self-check")
    parser.add_argument("--no-self-check", action="store_true", help="only build")
    args = parser.parse_args()
    archive, unzipped = build(args.out, args.python_version)
    print(f"zip: {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    print(f"unzipped: {unzipped:.1f} MB (limit {LIMIT_MB} MB, target {TARGET_MB} MB)")
    if unzipped > LIMIT_MB:
        sys.exit(f"unzipped package is {unzipped:.1f} MB, over the {LIMIT_MB} MB Lambda limit")
    if args.no_self_check:
        return
    python = check_interpreter(args.python_version, args.check_python)
    if python is None:
        sys.exit(
            f"self-check: no python{args.python_version} on PATH; pass --check-python, "
            "or --no-self-check to only build"
        )
    body = self_check(archive, python)
    print(f"self-check ({python} -I -S, unzipped package only): POST /predict -> {body}")


if __name__ == "__main__":
    main()
