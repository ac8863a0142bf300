"""Response shapes of the prediction API (pydantic): prices with their intervals, status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bh_pricing.serving.manifest import PredictionIntervalSpec


class PriceInterval(BaseModel):
    """Prediction interval of one price: holds the true price with probability ``level``."""

    level: float = Field(description="nominal coverage, e.g. 0.8", examples=[0.8])
    low: float = Field(description="low end in BRL")
    high: float = Field(description="high end in BRL")


class _PredictionCommon(BaseModel):
    currency: Literal["BRL"] = "BRL"
    model_version: str
    request_id: str
    warnings: list[str] | None = Field(
        default=None, description="e.g. an unknown neighborhood; absent when there are none"
    )


class PricePrediction(_PredictionCommon):
    """Answer to one listing."""

    price: float = Field(description="predicted price in BRL")
    interval: PriceInterval | None = Field(
        default=None, description="absent only for bundles exported without an interval"
    )


class BatchPrediction(_PredictionCommon):
    """Answer to a list of listings, in the same order."""

    prices: list[float] = Field(description="predicted prices in BRL")
    intervals: list[PriceInterval] | None = Field(
        default=None, description="one per price; absent only for bundles without an interval"
    )
    count: int


class HealthStatus(BaseModel):
    """Model status and prediction-log counters."""

    status: Literal["ok", "unavailable"]
    model: dict[str, Any]
    prediction_log: dict[str, Any]


class ModelSummary(BaseModel):
    """The served bundle's manifest, summarised."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    run_id: str
    created_at: str
    estimator: str
    target_transform: str
    test_metrics: dict[str, float]
    features: list[dict[str, Any]]
    known_neighborhoods: list[str]
    prediction_interval: PredictionIntervalSpec | None
    bundle_uri: str
