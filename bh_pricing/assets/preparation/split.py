"""``train_listings`` / ``test_listings``: the training data and its holdout, as batches accumulate.

The clean listings are split deterministically (default 80/20, seed 42). Every accepted market
batch then joins: part of it trains, the rest is held out in ``test_listings``, and every row
carries its ``batch`` and a recency ``sample_weight`` (``bh_pricing.core.recency``). A batch is
accepted when its ``market_batches`` partition is materialized (it passed the same cleaning and
Pandera contract as ``clean_listings``) and its ``drift_report`` ran; a registered partition
still waiting for either is left out, and the metadata says so.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field
from sklearn.model_selection import train_test_split

from bh_pricing.assets.preparation.dagster_types import TrainingListingsType, column_schema
from bh_pricing.constants import PREPARATION
from bh_pricing.core.recency import RecencyPolicy, TrainingData, assemble_training_data

MARKET_BATCHES, DRIFT_REPORT = "market_batches", dg.AssetKey("drift_report")


class SplitConfig(dg.Config):
    """The split of the clean listings, and how landed batches join (``RecencyPolicy``)."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42
    half_life_batches: float = Field(
        default=RecencyPolicy.half_life_batches,
        gt=0,
        description="Batches after which a market's sample weight halves",
    )
    batch_holdout_share: float = Field(
        default=RecencyPolicy.holdout_share, gt=0, lt=1, description="Share of a batch held out"
    )

    def policy(self) -> RecencyPolicy:
        """The recency policy these settings describe."""
        return RecencyPolicy(self.half_life_batches, self.batch_holdout_share, self.seed)


def _out(description: str) -> dg.AssetOut:
    return dg.AssetOut(
        group_name=PREPARATION,
        dagster_type=TrainingListingsType,
        kinds={"pandas"},
        description=description,
        metadata=column_schema(TrainingListingsType),
    )


@dg.multi_asset(
    outs={
        "train_listings": _out("Training rows of the clean listings and of every accepted batch"),
        "test_listings": _out("Held-out rows: the clean listings' test split and each batch's"),
    },
    ins={
        MARKET_BATCHES: dg.AssetIn(
            partition_mapping=dg.AllPartitionMapping(),
            metadata={"allow_missing_partitions": True},
        )
    },
)
def train_test(
    context: dg.AssetExecutionContext,
    config: SplitConfig,
    clean_listings: pd.DataFrame,
    market_batches: Any,
) -> Iterator[dg.Output]:
    """Split the clean listings, add the accepted batches, weight every row by recency."""
    registered = context.instance.get_dynamic_partitions(MARKET_BATCHES)
    landed = by_partition(market_batches, registered)
    checked = context.instance.get_materialized_partitions(DRIFT_REPORT)
    accepted = [key for key in registered if key in landed and key in checked]
    waiting = {
        key: "not cleaned yet" if key not in landed else "no drift report yet"
        for key in registered
        if key not in accepted
    }
    train, test = train_test_split(
        clean_listings, test_size=config.test_size, random_state=config.seed
    )
    data = assemble_training_data(
        train, test, {key: landed[key] for key in accepted}, config.policy()
    )
    if waiting:
        context.log.info(f"batches left out: {waiting}")
    for name, frame in (("train_listings", data.train), ("test_listings", data.test)):
        yield dg.Output(frame, output_name=name, metadata=_metadata(config, data, frame, waiting))


def by_partition(loaded: Any, keys: list[str]) -> dict[str, pd.DataFrame]:
    """The materialized batches by partition key, from what the I/O manager loaded for every
    registered partition ``keys``: None for no partition (or one not materialized), the frame
    itself for a single one, a dict without the missing ones for several."""
    if loaded is None:
        return {}
    if isinstance(loaded, pd.DataFrame):
        (key,) = keys
        return {key: loaded}
    return dict(loaded)


def _metadata(
    config: SplitConfig, data: TrainingData, frame: pd.DataFrame, waiting: dict[str, str]
) -> dict[str, object]:
    landed = data.batches.iloc[1:]
    return {
        "dagster/row_count": len(frame),
        "seed": config.seed,
        "test_size": config.test_size,
        "half_life_batches": config.half_life_batches,
        "batch_holdout_share": config.batch_holdout_share,
        "batches": ", ".join(landed["batch"]) or "none",
        "batch_count": len(landed),
        "rows_by_batch": dg.MetadataValue.md(data.batches.to_markdown(index=False)),
        "left_out": dg.MetadataValue.json(waiting),
    }
