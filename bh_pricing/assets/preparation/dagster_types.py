"""Pandera schemas as Dagster types, so the UI shows each frame's columns and checks."""

from dagster_pandera import pandera_schema_to_dagster_type

from bh_pricing.core.schemas import CleanListings

CleanListingsType = pandera_schema_to_dagster_type(CleanListings)
