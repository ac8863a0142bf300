"""The prediction service without its transport: settings, the model holder, the log, pricing.

``api`` exposes it over HTTP (FastAPI); ``lambda_handler`` and uvicorn only carry requests to it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bh_pricing.serving.predlog import PredictionLog
from bh_pricing.serving.responses import (
    BatchPrediction,
    HealthStatus,
    ModelSummary,
    PriceInterval,
    PricePrediction,
)
from bh_pricing.serving.runtime import ModelHolder, ServedModel
from bh_pricing.serving.schemas import FieldProblem, Listing, RequestError


@dataclass(frozen=True)
class ServingSettings:
    """Where the bundle and the prediction log live, how to retry and to follow
    ``current.json`` (``refresh_seconds``), and the HTTP options.

    ``base_path``: a custom-domain base path (``/pricing``) routes are also matched under;
    ``cors_origins``: origins allowed by CORS (empty: no CORS headers; ``*``: any).
    """

    model_uri: str | None
    prediction_log_uri: str | None
    retry_seconds: float = 5.0
    refresh_seconds: float = 30.0
    log_max_records: int = 100
    log_max_seconds: float = 30.0
    base_path: str = ""
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """Read ``BH_PRICING_MODEL_URI``, ``BH_PRICING_PREDICTION_LOG_URI``,
        ``BH_PRICING_MODEL_RETRY_SECONDS``, ``BH_PRICING_MODEL_REFRESH_SECONDS``, the log knobs,
        ``BH_PRICING_API_BASE_PATH`` and ``BH_PRICING_CORS_ORIGINS`` (comma-separated)."""
        env = os.environ if environ is None else environ
        origins = env.get("BH_PRICING_CORS_ORIGINS", "")
        return cls(
            model_uri=env.get("BH_PRICING_MODEL_URI") or None,
            prediction_log_uri=env.get("BH_PRICING_PREDICTION_LOG_URI") or None,
            retry_seconds=_number(env, "BH_PRICING_MODEL_RETRY_SECONDS", 5.0),
            refresh_seconds=_number(env, "BH_PRICING_MODEL_REFRESH_SECONDS", 30.0),
            log_max_records=int(_number(env, "BH_PRICING_LOG_MAX_RECORDS", 100)),
            log_max_seconds=_number(env, "BH_PRICING_LOG_MAX_SECONDS", 30.0),
            base_path=env.get("BH_PRICING_API_BASE_PATH", ""),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """The non-negative number in ``env[name]`` (``default`` when unset or blank); ValueError
    naming the variable otherwise."""
    text = env.get(name, "").strip()
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {text!r}")
    return value


class PricingService:
    """One per process: the model (loaded lazily, once) and the prediction log buffer."""

    def __init__(self, settings: ServingSettings) -> None:
        self.settings = settings
        self.models = ModelHolder(
            settings.model_uri, settings.retry_seconds, settings.refresh_seconds
        )
        self.log = PredictionLog(
            settings.prediction_log_uri, settings.log_max_records, settings.log_max_seconds
        )

    def predict(
        self, listings: list[Listing], single: bool, request_id: str
    ) -> PricePrediction | BatchPrediction:
        """Price validated listings, log them, and build the response.

        Raises ModelUnavailableError (no model) or RequestError 422 (a listing the model cannot
        price, e.g. features that overflow).
        """
        model = self.models.get()
        records = [listing.model_dump() for listing in listings]
        prices = model.predict_records(records)
        bad = [i for i, p in enumerate(prices) if not math.isfinite(p)]
        if bad:
            where = [
                FieldProblem(field=_item(i, single), problem="the model cannot price this listing")
                for i in bad
            ]
            raise RequestError(422, "listing(s) outside what the model can price", where)
        self.log.record(request_id, model.manifest.model_version, records, prices.tolist())
        intervals = _intervals(model, prices)
        common = {
            "currency": "BRL",
            "model_version": model.manifest.model_version,
            "request_id": request_id,
            "warnings": _warnings(model, listings, single) or None,
        }
        rounded = [round(float(p), 2) for p in prices]
        if single:
            interval = None if intervals is None else intervals[0]
            return PricePrediction(price=rounded[0], interval=interval, **common)
        return BatchPrediction(prices=rounded, intervals=intervals, count=len(rounded), **common)

    def health(self) -> HealthStatus:
        """``ok`` when a model is loaded (loading it if needed), ``unavailable`` otherwise."""
        loaded = self.models.try_get() is not None
        return HealthStatus(
            status="ok" if loaded else "unavailable",
            model=self.models.status(),
            prediction_log=self.log.status(),
        )

    def model_summary(self) -> ModelSummary:
        """Summary of the served bundle's manifest; ModelUnavailableError without a model."""
        model = self.models.get()
        manifest = model.manifest
        return ModelSummary(
            model_name=manifest.model_name,
            model_version=manifest.model_version,
            run_id=manifest.run_id,
            created_at=manifest.created_at,
            estimator=manifest.estimator,
            target_transform=manifest.target_transform,
            test_metrics=manifest.test_metrics,
            features=[f.model_dump() for f in manifest.input_schema.features],
            known_neighborhoods=manifest.input_schema.known_neighborhoods,
            prediction_interval=manifest.prediction_interval,
            bundle_uri=model.uri,
        )


def _item(index: int, single: bool) -> str:
    return "body" if single else f"[{index}]"


def _intervals(model: ServedModel, prices: np.ndarray) -> list[PriceInterval] | None:
    calibration = model.interval
    if calibration is None:
        return None
    low, high = calibration.bounds(prices)
    return [
        PriceInterval(level=calibration.level, low=round(float(lo), 2), high=round(float(hi), 2))
        for lo, hi in zip(low, high, strict=True)
    ]


def _warnings(model: ServedModel, listings: list[Listing], single: bool) -> list[str]:
    notes = []
    for i, listing in enumerate(listings):
        where = "" if single else f"[{i}]."
        if model.known_neighborhoods and not model.knows_neighborhood(listing.neighborhood):
            notes.append(
                f"{where}neighborhood: {listing.neighborhood!r} was not seen in training; "
                "priced from the other features"
            )
        if listing.latitude is None or listing.longitude is None:
            notes.append(f"{where}latitude/longitude: missing; priced without the location")
    return notes[:50]
