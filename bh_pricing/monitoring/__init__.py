"""Monitoring: drift between reference listings and new batches, and its report."""

from bh_pricing.monitoring.drift import (
    DEFAULT_ALPHA,
    DEFAULT_WEIGHTS,
    PriceModel,
    detect_drift,
    detect_input_drift,
)
from bh_pricing.monitoring.materiality import DriftThresholds
from bh_pricing.monitoring.report import (
    DRIFT,
    IMMATERIAL,
    INSUFFICIENT,
    NO_DRIFT,
    DriftReport,
    DriftTest,
    weighted_holm,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_WEIGHTS",
    "DRIFT",
    "IMMATERIAL",
    "INSUFFICIENT",
    "NO_DRIFT",
    "DriftReport",
    "DriftTest",
    "DriftThresholds",
    "PriceModel",
    "detect_drift",
    "detect_input_drift",
    "weighted_holm",
]
