"""Where bh-pricing keeps files besides Dagster's own storage (local folder or S3)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from bh_pricing.io.storage import join


class Locations(dg.ConfigurableResource):
    """Base URIs of the landing zone, serving bundles and the prediction log."""

    landing_uri: str = Field(description="BH_PRICING_LANDING_URI: new market batches (CSV)")
    artifacts_uri: str = Field(description="Artifact store root: serving bundles and reports")
    prediction_log_uri: str = Field(description="BH_PRICING_PREDICTION_LOG_URI")

    def bundles_uri(self) -> str:
        """Where serving bundles are published."""
        return join(self.artifacts_uri, "bundles")
