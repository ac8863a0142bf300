"""Which endpoint the post-publication smoke check calls."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from bh_pricing.serving.smoke import Endpoint, HttpEndpoint, LocalHandler


class ServingEndpoint(dg.ConfigurableResource):
    """The deployed API (``url``, BH_PRICING_SMOKE_URL) or, without one, the Lambda handler
    in-process on the published bundle root."""

    url: str | None = Field(default=None, description="BH_PRICING_SMOKE_URL: deployed API root")
    api_key: str | None = Field(default=None, description="BH_PRICING_SMOKE_API_KEY: x-api-key")
    timeout_seconds: float = Field(default=30.0, description="HTTP timeout per call")

    def endpoint(self, bundle_root: str) -> Endpoint:
        """The endpoint to call for bundles published under ``bundle_root``."""
        if self.url:
            return HttpEndpoint(self.url, self.api_key, self.timeout_seconds)
        return LocalHandler(bundle_root)
