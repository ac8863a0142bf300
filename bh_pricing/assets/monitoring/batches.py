"""``market_batches``: one dynamic partition per CSV dropped in the landing location."""

import re
from pathlib import Path

import dagster as dg
import pandas as pd

from bh_pricing.assets.preparation.cleaning import CleaningConfig
from bh_pricing.assets.preparation.dagster_types import CleanListingsType, column_schema
from bh_pricing.constants import MONITORING
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.io.raw_sources import read_raw_listings
from bh_pricing.io.storage import join, list_files, parse
from bh_pricing.resources import Locations

MARKET_BATCHES = dg.DynamicPartitionsDefinition(name="market_batches")
_VALID_KEY = re.compile(r"^[\w.\-/]+\.csv$")


def landed_batches(landing_uri: str) -> tuple[list[str], list[str]]:
    """Partition keys of the CSVs in the landing location (paths relative to it), and the
    names that cannot be keys (only letters, digits, ``_ . - /`` are accepted)."""
    location = parse(landing_uri)
    uris = list_files(landing_uri, ".csv")
    if location.scheme == "file":
        names = [Path(uri).relative_to(location.key).as_posix() for uri in uris]
    else:
        names = [uri.removeprefix(location.uri.rstrip("/") + "/") for uri in uris]
    return [n for n in names if _VALID_KEY.match(n)], [n for n in names if not _VALID_KEY.match(n)]


def batch_uri(landing_uri: str, key: str) -> str:
    """Where the CSV of partition ``key`` lives."""
    return join(landing_uri, key)


@dg.asset(
    partitions_def=MARKET_BATCHES,
    group_name=MONITORING,
    dagster_type=CleanListingsType,
    kinds={"pandas", "csv"},
    metadata=column_schema(CleanListingsType),
)
def market_batches(
    context: dg.AssetExecutionContext, config: CleaningConfig, locations: Locations
) -> dg.MaterializeResult[pd.DataFrame]:
    """A landed batch of raw listings, cleaned like ``clean_listings`` (same code, same bounds)."""
    uri = batch_uri(locations.landing_uri, context.partition_key)
    raw = read_raw_listings(uri)
    result = clean_listings(raw.frame, config.bounds())
    reasons = pd.DataFrame(sorted(result.reasons.items()), columns=["reason", "rows"])
    context.log.info(f"{uri}: {len(result.clean)} clean of {len(raw.frame)} raw listings")
    return dg.MaterializeResult(
        value=result.clean,
        metadata={
            "source": uri,
            "content_sha256": raw.content_hash,
            "raw_rows": len(raw.frame),
            "dagster/row_count": len(result.clean),
            "quarantined_rows": len(result.quarantined),
            "quarantine_reasons": dg.MetadataValue.md(reasons.to_markdown(index=False)),
        },
    )
