"""Settings of drift monitoring and of the retraining it triggers."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field


class MonitoringSettings(dg.ConfigurableResource):
    """How a drift-triggered retraining promotes its model, and how often it may run."""

    promotion_policy: Literal["auto", "manual"] = Field(
        default="auto",
        description="BH_PRICING_PROMOTION_POLICY: auto moves champion; manual sets challenger",
    )
    retrain_cooldown_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="BH_PRICING_RETRAIN_COOLDOWN_SECONDS: least time between two retrainings",
    )
