"""Pandera schemas as Dagster types, so the UI shows each frame's columns and checks."""

import dagster as dg
from dagster_pandera import pandera_schema_to_dagster_type

from bh_pricing.core.schemas import CleanListings, TrainingListings

CleanListingsType = pandera_schema_to_dagster_type(CleanListings)
TrainingListingsType = pandera_schema_to_dagster_type(TrainingListings)


def column_schema(dagster_type: dg.DagsterType) -> dict[str, dg.TableSchema]:
    """``dagster/column_schema`` metadata from a Pandera Dagster type: the columns (name, type,
    checks) shown in the asset's overview."""
    return {"dagster/column_schema": dagster_type.metadata["schema"].schema}
