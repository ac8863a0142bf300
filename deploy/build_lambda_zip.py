"""Build the zip package of the prediction Lambda and print its unzipped size.

    python deploy/build_lambda_zip.py [--out build/lambda] [--python-version 3.12]

Installs only ``deploy/lambda-requirements.txt`` (manylinux x86_64 wheels for the Lambda Python
version) plus the ``bh_pricing.serving`` package into a folder, zips it, and fails when the
unzipped size exceeds Lambda's 250 MB limit. Python 3.12 because the python3.12 runtime runs on
Amazon Linux 2023, whose glibc accepts current onnxruntime wheels (manylinux_2_28).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "deploy" / "lambda-requirements.txt"
LIMIT_MB = 250
TARGET_MB = 100
# The serving package and the modules it imports from bh_pricing; the export side is left out.
SOURCES = (
    "bh_pricing/__init__.py",
    "bh_pricing/constants.py",
    "bh_pricing/io/__init__.py",
    "bh_pricing/io/storage.py",
)
SERVING_EXCLUDE = ("bundle.py", "onnx_convert.py", "log_reader.py", "openapi.py")
# Installed files the handler never imports: caches, tests, onnxruntime's model tooling, f2py.
PRUNE = (
    "__pycache__",
    "tests",
    "*.pyi",
    "bin",
    "numpy/f2py",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/datasets",
)


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


def main() -> None:
    """Build, print sizes, fail above the Lambda limit."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda")
    parser.add_argument("--python-version", default="3.12")
    args = parser.parse_args()
    archive, unzipped = build(args.out, args.python_version)
    print(f"zip: {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    print(f"unzipped: {unzipped:.1f} MB (limit {LIMIT_MB} MB, target {TARGET_MB} MB)")
    if unzipped > LIMIT_MB:
        sys.exit(f"unzipped package is {unzipped:.1f} MB, over the {LIMIT_MB} MB Lambda limit")


if __name__ == "__main__":
    main()
