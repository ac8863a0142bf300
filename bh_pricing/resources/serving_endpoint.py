"""Which endpoint the post-publication smoke check calls."""

from __future__ import annotations

from typing import Self

import dagster as dg
from pydantic import Field, field_validator, model_validator

from bh_pricing.serving.smoke_endpoints import (
    Endpoint,
    HttpEndpoint,
    LambdaEndpoint,
    LocalHandler,
    lambda_function_name,
)


class ServingEndpoint(dg.ConfigurableResource):
    """The deployed API (``url``, BH_PRICING_SMOKE_URL), the deployed function invoked directly
    (``lambda_function``, BH_PRICING_SMOKE_LAMBDA) or, without either, the Lambda handler
    in-process on the published bundle root. Setting both is an error (ValueError naming the
    variables) when the resource is built: at definitions load and again when a run starts."""

    url: str | None = Field(default=None, description="BH_PRICING_SMOKE_URL: deployed API root")
    api_key: str | None = Field(default=None, description="BH_PRICING_SMOKE_API_KEY: x-api-key")
    lambda_function: str | None = Field(
        default=None,
        description=(
            "BH_PRICING_SMOKE_LAMBDA: function name or ARN to invoke, optionally :<alias>"
        ),
    )
    timeout_seconds: float = Field(default=30.0, description="HTTP / invoke read timeout per call")
    wait_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "BH_PRICING_SMOKE_WAIT_SECONDS: how long a deployed endpoint may keep answering with "
            "the previous version (it follows current.json every BH_PRICING_MODEL_REFRESH_SECONDS)"
        ),
    )

    @field_validator("lambda_function")
    @classmethod
    def _function_name(cls, value: str | None) -> str | None:
        return None if value is None else lambda_function_name(value)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.url and self.lambda_function:
            raise ValueError(
                "the smoke check calls one endpoint: set BH_PRICING_SMOKE_URL "
                f"({self.url!r}) or BH_PRICING_SMOKE_LAMBDA ({self.lambda_function!r}), not both"
            )
        return self

    def wait_for_version(self) -> float:
        """Seconds to wait for the new version: ``wait_seconds`` for a deployed endpoint, none
        for the in-process handler (it reads ``current.json`` on its first call)."""
        return self.wait_seconds if (self.url or self.lambda_function) else 0.0

    def endpoint(self, bundle_root: str) -> Endpoint:
        """The endpoint to call for bundles published under ``bundle_root``."""
        if self.url:
            return HttpEndpoint(self.url, self.api_key, self.timeout_seconds)
        if self.lambda_function:
            return LambdaEndpoint(self.lambda_function, self.timeout_seconds)
        return LocalHandler(bundle_root)
