"""Load a model bundle (local folder or s3:// prefix), verify it, and predict with onnxruntime."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, InvalidProtobuf
from pydantic import ValidationError

from bh_pricing.contract import canonical_name, known_lookup, to_known
from bh_pricing.core.intervals import ConformalInterval
from bh_pricing.io import storage
from bh_pricing.serving.manifest import (
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    CurrentPointer,
    Manifest,
)

logger = logging.getLogger(__name__)
NEIGHBORHOOD = "neighborhood"


class BundleError(RuntimeError):
    """The bundle is missing, incomplete or corrupt; the message names the file and the problem."""


@dataclass(frozen=True)
class ServedModel:
    """A verified bundle ready to predict prices in BRL."""

    uri: str
    manifest: Manifest
    session: ort.InferenceSession
    known_neighborhoods: frozenset[str] = field(default_factory=frozenset)
    interval: ConformalInterval | None = None

    @cached_property
    def neighborhood_lookup(self) -> dict[str, str]:
        """Canonical key -> the neighborhood as the model knows it (``contract.known_lookup``)."""
        return known_lookup(self.known_neighborhoods)

    def knows_neighborhood(self, name: str) -> bool:
        """Whether any spelling of ``name`` was seen in training (``"LOURDES"`` = ``"Lourdes"``)."""
        return canonical_name(name) in self.neighborhood_lookup

    def predict_columns(self, columns: Mapping[str, Sequence[object]]) -> np.ndarray:
        """Prices in BRL for feature columns (``None``/NaN allowed in coordinates).

        Neighborhoods are fed in canonical form (``bh_pricing.contract``), mapped to the model's
        own category, so every spelling of a known neighborhood prices like it.
        """
        feeds: dict[str, np.ndarray] = {}
        for feature in self.manifest.input_schema.features:
            values = columns[feature.name]
            if feature.name == NEIGHBORHOOD:
                values = to_known(values, self.neighborhood_lookup)
            if feature.dtype == "string":
                feeds[feature.name] = np.asarray(values, dtype=object).reshape(-1, 1)
            else:
                numbers = [np.nan if v is None else v for v in values]
                feeds[feature.name] = np.asarray(numbers, dtype=feature.dtype).reshape(-1, 1)
        raw = self.session.run(None, feeds)[0].astype(np.float64).ravel()
        return np.exp(raw) if self.manifest.target_transform == "exp" else raw

    def predict_records(self, records: Sequence[Mapping[str, object]]) -> np.ndarray:
        """Prices for a list of feature dicts (e.g. validated listings dumped by name)."""
        names = [f.name for f in self.manifest.input_schema.features]
        return self.predict_columns({n: [r.get(n) for r in records] for n in names})


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_current(root: str) -> CurrentPointer | None:
    """The pointer ``<root>/current.json``, or None when nothing is published under ``root``."""
    uri = storage.join(root, CURRENT_FILE)
    try:
        return CurrentPointer.model_validate_json(storage.read_bytes(uri))
    except storage.NotFoundError:
        return None
    except ValidationError as exc:
        raise BundleError(f"{uri}: invalid pointer: {exc}") from exc


def resolve_bundle(uri: str) -> tuple[str, CurrentPointer | None]:
    """The bundle folder for ``uri``: the one ``current.json`` points to, or ``uri`` itself."""
    pointer = read_current(uri)
    if pointer is None:
        return uri, None
    return storage.join(uri, pointer.bundle), pointer


def load_bundle(uri: str) -> ServedModel:
    """Read and verify the bundle at ``uri`` (a root with ``current.json`` or a bundle folder)."""
    try:
        folder, pointer = resolve_bundle(uri)
        manifest_bytes = storage.read_bytes(storage.join(folder, MANIFEST_FILE))
        if pointer is not None and sha256(manifest_bytes) != pointer.manifest_sha256:
            raise BundleError(f"{folder}: manifest checksum differs from {CURRENT_FILE}")
        manifest = Manifest.model_validate_json(manifest_bytes)
        files = {name: storage.read_bytes(storage.join(folder, name)) for name in manifest.files}
    except storage.StorageError as exc:
        raise BundleError(str(exc)) from exc
    except ValidationError as exc:
        raise BundleError(f"{folder}: invalid {MANIFEST_FILE}: {exc}") from exc
    for name, entry in manifest.files.items():
        if sha256(files[name]) != entry.sha256:
            raise BundleError(f"{storage.join(folder, name)}: sha256 does not match the manifest")
    if MODEL_FILE not in files:
        raise BundleError(f"{folder}: the manifest lists no {MODEL_FILE}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            files[MODEL_FILE], options, providers=["CPUExecutionProvider"]
        )
    except (Fail, InvalidArgument, InvalidProtobuf) as exc:
        raise BundleError(
            f"{storage.join(folder, MODEL_FILE)}: onnxruntime cannot load it: {exc}"
        ) from exc
    expected = {f.name for f in manifest.input_schema.features}
    missing = {i.name for i in session.get_inputs()} - expected
    if missing:
        raise BundleError(f"{folder}: graph inputs {sorted(missing)} are not in the manifest")
    known = frozenset(manifest.input_schema.known_neighborhoods)
    spec = manifest.prediction_interval
    interval = None
    if spec is not None:
        interval = ConformalInterval(
            spec.level, spec.log_halfwidth, spec.calibration_rows, spec.method
        )
    return ServedModel(folder, manifest, session, known, interval)


class ModelUnavailableError(RuntimeError):
    """No model can be served right now; the message says why."""


class ModelHolder:
    """Loads the bundle once per process, keeps it, and follows ``current.json``.

    After a failed load, retries on later calls, spaced by ``retry_seconds`` so a broken bundle
    does not turn every request into a slow download. Once a model is served, at most every
    ``refresh_seconds`` one call re-reads the pointer (one small GET) and, when it names another
    bundle, loads that one and swaps it in; until then, and when the new bundle cannot be
    loaded (logged, and shown by ``status()`` as ``refresh_error``), the loaded model keeps
    serving. A warm container (Lambda, uvicorn) thus serves a new champion within
    ``refresh_seconds`` of its publication, without a restart.
    """

    def __init__(
        self, uri: str | None, retry_seconds: float = 5.0, refresh_seconds: float = 30.0
    ) -> None:
        self.uri = uri
        self.retry_seconds = retry_seconds
        self.refresh_seconds = refresh_seconds
        self.model: ServedModel | None = None
        self.error: str | None = None
        self.refresh_error: str | None = None
        self.load_seconds: float | None = None
        self._last_attempt = float("-inf")
        self._last_refresh = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> ServedModel:
        """The loaded model; ModelUnavailableError with the reason when there is none.

        Thread-safe: concurrent first requests load the bundle once; while one call follows a
        new pointer, the others keep getting the model loaded before.
        """
        model = self.model
        if model is not None:
            if time.monotonic() - self._last_refresh >= self.refresh_seconds:
                self._refresh(model)
            return self.model or model
        with self._lock:
            if self.model is None and (time.monotonic() - self._last_attempt >= self.retry_seconds):
                self._load()
        if self.model is None:
            raise ModelUnavailableError(self.error or "model not loaded")
        return self.model

    def try_get(self) -> ServedModel | None:
        """The model, or None (the reason is in ``status()``); loads it like ``get``."""
        try:
            return self.get()
        except ModelUnavailableError:
            return None

    def _load(self) -> None:
        self._last_attempt = time.monotonic()
        if not self.uri:
            self.error = "BH_PRICING_MODEL_URI is not set: no model bundle to serve"
            return
        started = time.perf_counter()
        try:
            self.model = load_bundle(self.uri)
        except BundleError as exc:
            self.error = f"model bundle unavailable: {exc}"
            logger.error(self.error)
            return
        self._last_refresh = time.monotonic()
        self.load_seconds = time.perf_counter() - started
        self.error = None
        logger.info(
            "loaded %s version %s in %.3fs",
            self.model.uri,
            self.model.manifest.model_version,
            self.load_seconds,
        )

    def _refresh(self, served: ServedModel) -> None:
        """Swap in the bundle ``current.json`` now names, if it is another one (one caller at a
        time; the others return at once)."""
        if self.uri is None or not self._lock.acquire(blocking=False):
            return
        try:
            self._last_refresh = time.monotonic()
            try:
                folder, _ = resolve_bundle(self.uri)
                if folder == served.uri:
                    self.refresh_error = None
                    return
                started = time.perf_counter()
                model = load_bundle(self.uri)
            except (BundleError, storage.StorageError) as exc:
                self.refresh_error = f"still serving {served.uri}: {exc}"
                logger.error("cannot follow %s: %s", self.uri, self.refresh_error)
                return
            self.model, self.refresh_error = model, None
            self.load_seconds = time.perf_counter() - started
            logger.info(
                "followed %s to %s: version %s replaces %s (%.3fs)",
                CURRENT_FILE,
                model.uri,
                model.manifest.model_version,
                served.manifest.model_version,
                self.load_seconds,
            )
        finally:
            self._lock.release()

    def status(self) -> dict[str, object]:
        """What /health reports about the model."""
        if self.model is None:
            return {"loaded": False, "error": self.error}
        status: dict[str, object] = {
            "loaded": True,
            "model_version": self.model.manifest.model_version,
            "uri": self.model.uri,
            "load_seconds": self.load_seconds,
        }
        if self.refresh_error:
            status["refresh_error"] = self.refresh_error
        return status


def manifest_json(model: ServedModel) -> dict[str, object]:
    """The manifest as plain JSON data."""
    return json.loads(model.manifest.model_dump_json())
