"""``market_batches``: one dynamic partition per complete CSV content landed (see
``bh_pricing.io.landing`` for the intake rules and the partition key)."""

import dagster as dg
import pandas as pd

from bh_pricing.assets.preparation.cleaning import CleaningConfig
from bh_pricing.assets.preparation.dagster_types import CleanListingsType, column_schema
from bh_pricing.constants import MONITORING
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.io import storage
from bh_pricing.io.landing import (
    BATCH_SHA256_TAG,
    BatchContentError,
    batch_file,
    verify_batch_content,
)
from bh_pricing.io.raw_sources import read_raw_listings
from bh_pricing.io.storage import join
from bh_pricing.resources import Locations

MARKET_BATCHES = dg.DynamicPartitionsDefinition(name="market_batches")


def batch_uri(landing_uri: str, key: str) -> str:
    """Where the CSV of partition ``key`` (``<path>@<sha256 prefix>``, or a bare path for a
    batch registered before keys carried content) lives."""
    return join(landing_uri, batch_file(key)[0])


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
    """A landed batch of raw listings, cleaned like ``clean_listings`` (same code, same bounds).

    Reads the file the partition key names and fails, naming the file and both hashes, when its
    content is no longer the one the batch was registered with (the full sha256 from the run tag
    set by ``landing_sensor``, else the prefix in the key).
    """
    key = context.partition_key
    uri = batch_uri(locations.landing_uri, key)
    try:
        sha256 = verify_batch_content(
            key, uri, storage.read_bytes(uri), context.run.tags.get(BATCH_SHA256_TAG)
        )
    except (BatchContentError, storage.StorageError) as exc:
        raise dg.Failure(description=str(exc)) from exc
    raw = read_raw_listings(uri)
    result = clean_listings(raw.frame, config.bounds())
    reasons = pd.DataFrame(sorted(result.reasons.items()), columns=["reason", "rows"])
    context.log.info(f"{uri}: {len(result.clean)} clean of {len(raw.frame)} raw listings")
    return dg.MaterializeResult(
        value=result.clean,
        metadata={
            "source": uri,
            "file_sha256": sha256,
            "content_sha256": raw.content_hash,
            "raw_rows": len(raw.frame),
            "dagster/row_count": len(result.clean),
            "quarantined_rows": len(result.quarantined),
            "quarantine_reasons": dg.MetadataValue.md(reasons.to_markdown(index=False)),
        },
    )
