"""The raw listings source as a resource: sample generator, CSV path / s3:// URI, or Kaggle."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from bh_pricing.core.sample import DEFAULT_ROWS
from bh_pricing.io.raw_sources import RawListings, read_raw_listings


class RawListingsSource(dg.ConfigurableResource):
    """Reads raw listings from ``uri``: ``sample`` (``sample_rows`` generated rows),
    ``sample:<rows>`` (e.g. ``sample:1000000``), a path, ``s3://...`` or ``kaggle://owner/name``."""

    uri: str = Field(default="sample", description="BH_PRICING_RAW_URI")
    sample_rows: int = Field(default=DEFAULT_ROWS, gt=0)
    sample_seed: int = 0

    def read(self, uri: str | None = None) -> RawListings:
        """Read from ``uri`` if given, else from the configured source."""
        return read_raw_listings(
            uri or self.uri, sample_rows=self.sample_rows, sample_seed=self.sample_seed
        )
