"""Settings of drift monitoring and of the retraining it triggers."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from bh_pricing.monitoring import DriftThresholds
from bh_pricing.monitoring.realized import RealizedSettings

_DEFAULTS = DriftThresholds()
_REALIZED = RealizedSettings()


class MonitoringSettings(dg.ConfigurableResource):
    """How large a change must be to count as drift, how a drift-triggered retraining promotes
    its model, and how often it may run.

    The ``min_*`` fields are ``DriftThresholds`` (see ``bh_pricing.monitoring.materiality``): a
    drift test flags drift only when it is significant and its effect reaches them;
    ``min_realized_mape_increase`` is the same for the champion's realized errors
    (``bh_pricing.monitoring.realized``).
    """

    promotion_policy: Literal["auto", "manual"] = Field(
        default="auto",
        description="BH_PRICING_PROMOTION_POLICY: auto moves champion; manual sets challenger",
    )
    retrain_cooldown_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="BH_PRICING_RETRAIN_COOLDOWN_SECONDS: least time between two retrainings",
    )
    min_price_change: float = Field(
        default=_DEFAULTS.price_change,
        ge=0,
        description="Smallest relative price level change that is drift (price, price per m², "
        "model bias); 0.02 = 2 %",
    )
    min_feature_distance: float = Field(
        default=_DEFAULTS.feature_distance,
        ge=0,
        description="Smallest Wasserstein distance / reference std of a numeric feature",
    )
    min_neighborhood_distance: float = Field(
        default=_DEFAULTS.neighborhood_distance,
        ge=0,
        description="Smallest Jensen-Shannon distance (base 2) of the neighborhood mix",
    )
    min_error_increase: float = Field(
        default=_DEFAULTS.error_increase,
        ge=0,
        description="Smallest rise of the model's median absolute % error; 0.02 = 2 points",
    )

    min_realized_mape_increase: float = Field(
        default=_REALIZED.min_mape_increase,
        ge=0,
        description="Smallest relative rise of the champion's realized MAPE over its holdout "
        "MAPE that counts as degraded; 0.25 = 25 %",
    )

    def realized_settings(self, alpha: float, min_rows: int) -> RealizedSettings:
        """``RealizedSettings`` for ``measure_realized_errors``: the test's ``alpha`` and
        ``min_rows`` (asset config) with this minimum effect."""
        return RealizedSettings(alpha, min_rows, self.min_realized_mape_increase)

    def drift_thresholds(self) -> DriftThresholds:
        """The ``min_*`` fields as the ``DriftThresholds`` that ``detect_drift`` takes."""
        return DriftThresholds(
            price_change=self.min_price_change,
            feature_distance=self.min_feature_distance,
            neighborhood_distance=self.min_neighborhood_distance,
            error_increase=self.min_error_increase,
        )
