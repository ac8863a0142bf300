"""Ingest: the raw listings, as scraped."""

import dagster as dg

from bh_pricing.assets.ingest.raw_listings import raw_listings

defs = dg.Definitions(assets=[raw_listings])
