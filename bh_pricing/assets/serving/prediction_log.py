"""``prediction_log``: what the endpoint priced, read back from the log for monitoring."""

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.constants import SERVING
from bh_pricing.resources import Locations
from bh_pricing.serving.log_reader import read_prediction_log


class PredictionLogConfig(dg.Config):
    """Which part of the log to read."""

    since: str | None = Field(default=None, description="First day to read (ISO date), or all")


@dg.asset(group_name=SERVING, kinds={"pandas"})
def prediction_log(
    context: dg.AssetExecutionContext, config: PredictionLogConfig, locations: Locations
) -> dg.MaterializeResult[pd.DataFrame]:
    """One row per logged prediction (inputs, price, model version, time), oldest first.

    An empty or missing log is an empty frame with the same columns, and the metadata says so.
    """
    uri = locations.prediction_log_uri
    frame = read_prediction_log(uri, since=config.since)
    metadata: dict[str, object] = {
        "uri": uri,
        "since": config.since or "(all)",
        "dagster/row_count": len(frame),
    }
    if frame.empty:
        note = f"no predictions logged under {uri}" + (
            f" since {config.since}" if config.since else ""
        )
        context.log.info(note)
        metadata["note"] = note
        return dg.MaterializeResult(value=frame, metadata=metadata)
    versions = frame["model_version"].value_counts().sort_index()
    metadata |= {
        "requests": int(frame["request_id"].nunique()),
        "model_versions": ", ".join(versions.index.astype(str)),
        "predictions_by_model_version": dg.MetadataValue.md(
            versions.rename("predictions").rename_axis("model_version").to_frame().to_markdown()
        ),
        "first_prediction": frame["time"].min().isoformat(),
        "last_prediction": frame["time"].max().isoformat(),
        "median_price": round(float(frame["prediction"].median()), 2),
    }
    return dg.MaterializeResult(value=frame, metadata=metadata)
