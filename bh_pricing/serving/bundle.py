"""Export a fitted candidate as a servable bundle (``model.onnx``, ``manifest.json``); publish it.

Layout under a root (local folder or s3:// prefix; the graph uses ``Locations.bundles_uri()``)::

    <root>/v<version>-<time>-<sha8>/model.onnx
    <root>/v<version>-<time>-<sha8>/manifest.json   (written after the model)
    <root>/current.json                            (written last, only after the parity check)

Readers go through ``current.json``, so they never see a half-written or unchecked bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bh_pricing.constants import FEATURE_COLUMNS, REGISTERED_MODEL_NAME
from bh_pricing.core.intervals import ConformalInterval
from bh_pricing.io import storage
from bh_pricing.serving.manifest import (
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    CurrentPointer,
    FileEntry,
    InputSchema,
    Manifest,
    PredictionIntervalSpec,
)
from bh_pricing.serving.onnx_convert import (
    inner_pipeline,
    input_features,
    numeric_dtype,
    target_transform,
    to_onnx,
)
from bh_pricing.serving.runtime import load_bundle, sha256

PARITY_TOLERANCE = 1e-3
PARITY_CHUNK_ROWS = 8192


class BundleCheckError(RuntimeError):
    """The exported bundle does not reproduce the estimator; it was not published."""


@dataclass(frozen=True)
class ParityReport:
    """ONNX bundle vs estimator on the same rows (relative error of the price)."""

    rows: int
    max_relative_error: float
    mean_relative_error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """True when every row is within ``tolerance``."""
        return self.max_relative_error <= self.tolerance


@dataclass(frozen=True)
class ExportedBundle:
    """Where a bundle was written, its manifest, and whether it is the published one."""

    root: str
    uri: str
    manifest: Manifest
    published: bool
    parity: ParityReport | None = None


def describe(estimator: object) -> str:
    """Short description, e.g. ``TransformedTargetRegressor(Ridge)``.

    A comparables adjustment shows around the last step:
    ``TransformedTargetRegressor(ComparablesAdjusted(HistGradientBoostingRegressor))``.
    """
    inner = getattr(estimator, "regressor_", estimator)
    pipeline = inner_pipeline(estimator)
    steps = getattr(pipeline, "steps", None)
    last = type(steps[-1][1]).__name__ if steps else type(pipeline).__name__
    if pipeline is not inner:
        last = f"{type(inner).__name__}({last})"
    return f"{type(estimator).__name__}({last})" if inner is not estimator else last


def known_categories(estimator: object, column: str) -> list[str]:
    """Categories of ``column`` seen in training, from the fitted encoder of that column.

    Works for ``[TransformedTargetRegressor ->] Pipeline`` whose first step is a fitted
    ColumnTransformer with a transformer named after the column; empty list otherwise.
    """
    inner = inner_pipeline(estimator)
    steps = getattr(inner, "steps", None) or [(None, inner)]
    transformers = getattr(steps[0][1], "named_transformers_", {})
    encoder = transformers.get(column)
    categories = getattr(encoder, "categories_", None)
    return sorted(str(c) for c in categories[0]) if categories else []


def export_bundle(
    estimator: object,
    root: str,
    *,
    model_version: str,
    run_id: str,
    test_metrics: dict[str, float],
    known_neighborhoods: list[str],
    interval: ConformalInterval | None = None,
    model_name: str = REGISTERED_MODEL_NAME,
    check_frame: pd.DataFrame | None = None,
    tolerance: float = PARITY_TOLERANCE,
    publish: bool = True,
) -> ExportedBundle:
    """Write the bundle under ``root``; with ``check_frame``, prove parity before publishing.

    ``interval`` (the model's conformal interval) goes into the manifest, with the measured
    ``test_metrics["interval_coverage"]`` when present, so the runtime serves the same interval.

    Raises BundleCheckError (and leaves ``current.json`` untouched) when the bundle's predictions
    differ from the estimator's by more than ``tolerance`` (relative) on any row.
    """
    model = to_onnx(estimator)
    created = datetime.now(UTC)
    manifest = Manifest(
        model_name=model_name,
        model_version=str(model_version),
        run_id=run_id,
        created_at=created.isoformat(timespec="seconds"),
        estimator=describe(estimator),
        target_transform=target_transform(estimator),
        test_metrics={k: float(v) for k, v in test_metrics.items()},
        input_schema=InputSchema(
            features=input_features(numeric_dtype(estimator)),
            known_neighborhoods=sorted(set(known_neighborhoods)),
        ),
        prediction_interval=interval_spec(interval, test_metrics.get("interval_coverage")),
        files={MODEL_FILE: FileEntry(sha256=sha256(model), bytes=len(model))},
    )
    folder = f"v{manifest.model_version}-{created:%Y%m%dT%H%M%SZ}-{sha256(model)[:8]}"
    uri = storage.join(root, folder)
    storage.write_bytes(storage.join(uri, MODEL_FILE), model)
    storage.write_bytes(storage.join(uri, MANIFEST_FILE), manifest_bytes(manifest))
    parity = None
    if check_frame is not None:
        parity = check_parity(estimator, uri, check_frame, tolerance)
        if not parity.passed:
            raise BundleCheckError(
                f"bundle {uri} not published: max relative error {parity.max_relative_error:.2e} "
                f"over {parity.rows} rows exceeds {tolerance:.1e}"
            )
    if publish:
        publish_bundle(root, uri)
    return ExportedBundle(root, uri, manifest, publish, parity)


def interval_spec(
    interval: ConformalInterval | None, test_coverage: float | None = None
) -> PredictionIntervalSpec | None:
    """The manifest entry of ``interval`` (None stays None: a bundle without intervals)."""
    if interval is None:
        return None
    return PredictionIntervalSpec(
        level=interval.level,
        log_halfwidth=interval.log_halfwidth,
        calibration_rows=interval.calibration_rows,
        method=interval.method,
        test_coverage=test_coverage,
    )


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as indented JSON bytes; unset optional fields (a bundle without an interval)
    are left out, so such a manifest reads as it did before they existed."""
    return json.dumps(
        manifest.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False
    ).encode()


def check_parity(
    estimator: object, bundle_uri: str, frame: pd.DataFrame, tolerance: float = PARITY_TOLERANCE
) -> ParityReport:
    """Compare the bundle at ``bundle_uri`` (read back and verified) with ``estimator.predict``.

    The bundle scores ``PARITY_CHUNK_ROWS`` rows per call, so memory stays bounded at any size.
    """
    served = load_bundle(bundle_uri)
    features = frame.loc[:, list(FEATURE_COLUMNS)]
    expected = np.asarray(estimator.predict(features), dtype=float)
    actual = np.concatenate(
        [
            served.predict_columns({c: chunk[c].tolist() for c in FEATURE_COLUMNS})
            for chunk in (
                features.iloc[start : start + PARITY_CHUNK_ROWS]
                for start in range(0, len(features), PARITY_CHUNK_ROWS)
            )
        ]
        or [np.zeros(0)]
    )
    relative = np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-9)
    return ParityReport(
        rows=len(frame),
        max_relative_error=float(relative.max(initial=0.0)),
        mean_relative_error=float(relative.mean()) if len(relative) else 0.0,
        tolerance=tolerance,
    )


def publish_bundle(root: str, bundle_uri: str) -> CurrentPointer:
    """Point ``<root>/current.json`` at ``bundle_uri`` (a folder under ``root``)."""
    manifest = storage.read_bytes(storage.join(bundle_uri, MANIFEST_FILE))
    pointer = CurrentPointer(
        bundle=_relative(root, bundle_uri),
        manifest_sha256=sha256(manifest),
        model_version=Manifest.model_validate_json(manifest).model_version,
        published_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    current = pointer.model_dump_json(indent=2).encode()
    storage.write_bytes(storage.join(root, CURRENT_FILE), current)
    return pointer


def _relative(root: str, bundle_uri: str) -> str:
    if storage.parse(root).scheme == "s3":
        prefix = root.rstrip("/") + "/"
        relative = bundle_uri[len(prefix) :] if bundle_uri.startswith(prefix) else ""
    else:
        try:
            relative = Path(bundle_uri).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            relative = ""
    if not relative or relative == ".":
        raise ValueError(f"bundle {bundle_uri} is not a folder under the root {root}")
    return relative
