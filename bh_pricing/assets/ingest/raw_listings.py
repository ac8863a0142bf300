"""``raw_listings``: the Kaggle-format frame from the configured source."""

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.constants import INGEST
from bh_pricing.resources import RawListingsSource


class RawListingsConfig(dg.Config):
    """Override the source for one run (``sample``, ``sample:<rows>``, a path, ``s3://...``,
    ``kaggle://...``)."""

    uri: str | None = Field(
        default=None,
        description="Overrides BH_PRICING_RAW_URI for this run, e.g. sample:1000000",
    )


@dg.asset(group_name=INGEST, kinds={"pandas", "csv"})
def raw_listings(
    config: RawListingsConfig, raw_source: RawListingsSource
) -> dg.MaterializeResult[pd.DataFrame]:
    """Raw listings exactly as scraped: text columns, padded, with ranges and placeholders."""
    raw = raw_source.read(config.uri)
    return dg.MaterializeResult(
        value=raw.frame,
        metadata={
            "source": raw.source,
            "source_kind": raw.kind,
            "dagster/row_count": len(raw.frame),
            "content_sha256": raw.content_hash,
            "encoding": raw.encoding or "n/a (generated)",
            "malformed_rows": raw.malformed_rows,
            "preview": dg.MetadataValue.md(raw.frame.head(5).to_markdown(index=False)),
        },
    )
