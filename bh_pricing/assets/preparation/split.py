"""``train_listings`` / ``test_listings``: a deterministic split of the clean listings."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field
from sklearn.model_selection import train_test_split

from bh_pricing.assets.preparation.dagster_types import CleanListingsType
from bh_pricing.constants import PREPARATION


class SplitConfig(dg.Config):
    """Share of rows held out for testing, and the seed."""

    test_size: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42


@dg.multi_asset(
    outs={
        "train_listings": dg.AssetOut(
            group_name=PREPARATION, dagster_type=CleanListingsType, kinds={"pandas"}
        ),
        "test_listings": dg.AssetOut(
            group_name=PREPARATION, dagster_type=CleanListingsType, kinds={"pandas"}
        ),
    }
)
def train_test(config: SplitConfig, clean_listings: pd.DataFrame) -> Iterator[dg.Output]:
    """Split the clean listings into train and test (default 80/20, seed 42)."""
    train, test = train_test_split(
        clean_listings, test_size=config.test_size, random_state=config.seed
    )
    for name, frame in (("train_listings", train), ("test_listings", test)):
        yield dg.Output(
            frame.reset_index(drop=True),
            output_name=name,
            metadata={
                "dagster/row_count": len(frame),
                "seed": config.seed,
                "test_size": config.test_size,
            },
        )
