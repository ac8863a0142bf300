"""The bundle manifest: what a served model is, where it came from and how to feed it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "current.json"


class FileEntry(BaseModel):
    """One file of the bundle with its checksum."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class InputFeature(BaseModel):
    """One model input: a column of the feature contract and its ONNX element type."""

    name: str
    dtype: Literal["string", "float32", "float64"]
    nullable: bool = False


class InputSchema(BaseModel):
    """The graph inputs, in contract order, and the neighborhoods seen in training."""

    features: list[InputFeature]
    known_neighborhoods: list[str]


class PredictionIntervalSpec(BaseModel):
    """The split-conformal interval served with every price (``bh_pricing.core.intervals``).

    A price ``p`` (BRL) gets ``[p * exp(-log_halfwidth), p * exp(log_halfwidth)]``, calibrated to
    hold the true price with probability ``level`` on ``calibration_rows`` held-out listings;
    ``test_coverage`` is the share of ``test_listings`` inside their interval, when measured.
    """

    level: float = Field(gt=0, lt=1)
    log_halfwidth: float = Field(ge=0)
    calibration_rows: int = Field(ge=1)
    method: str
    test_coverage: float | None = Field(default=None, ge=0, le=1)


class Manifest(BaseModel):
    """Everything a reader needs to trust and use ``model.onnx``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    format_version: int = FORMAT_VERSION
    model_name: str
    model_version: str
    run_id: str
    created_at: str
    estimator: str
    target_transform: Literal["exp", "identity"]
    output_unit: str = "BRL"
    test_metrics: dict[str, float] = Field(default_factory=dict)
    input_schema: InputSchema
    # Absent in bundles exported before intervals: those serve prices without one.
    prediction_interval: PredictionIntervalSpec | None = None
    files: dict[str, FileEntry]


class CurrentPointer(BaseModel):
    """Content of ``current.json``: which version folder is published, and its manifest checksum."""

    bundle: str = Field(description="folder of the published bundle, relative to the root")
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    model_version: str
    published_at: str
