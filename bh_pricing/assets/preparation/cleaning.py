"""``clean_listings`` and ``quarantined_listings``: one cleaning pass, two outputs."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.assets.preparation.dagster_types import CleanListingsType
from bh_pricing.constants import PREPARATION
from bh_pricing.core.cleaning import Bounds, clean_listings

ROWS_ACCOUNTED_FOR = "rows_accounted_for"


class CleaningConfig(dg.Config):
    """Accepted ranges (inclusive); defaults are the earlier project's bounds."""

    price_min: float = Field(default=1e5)
    price_max: float = Field(default=4e6)
    square_foot_min: float = 10.0
    square_foot_max: float = 1000.0
    rooms_min: float = 1.0
    rooms_max: float = 6.0
    garage_places_min: float = 0.0
    garage_places_max: float = 6.0

    def bounds(self) -> Bounds:
        """The configured ranges as the cleaning code's ``Bounds``."""
        return Bounds(
            price=(self.price_min, self.price_max),
            square_foot=(self.square_foot_min, self.square_foot_max),
            rooms=(self.rooms_min, self.rooms_max),
            garage_places=(self.garage_places_min, self.garage_places_max),
        )


@dg.multi_asset(
    outs={
        "clean_listings": dg.AssetOut(
            group_name=PREPARATION,
            dagster_type=CleanListingsType,
            kinds={"pandas"},
            description="Typed, de-duplicated listings within bounds (Pandera CleanListings).",
        ),
        "quarantined_listings": dg.AssetOut(
            group_name=PREPARATION,
            kinds={"pandas"},
            description="Every raw row left out of clean_listings, with the reason.",
        ),
    },
    check_specs=[
        dg.AssetCheckSpec(
            ROWS_ACCOUNTED_FOR,
            asset="quarantined_listings",
            additional_deps=["raw_listings", "clean_listings"],
            description="raw rows = clean rows + quarantined rows: nothing disappears silently.",
        )
    ],
)
def cleaned_and_quarantined(
    context: dg.AssetExecutionContext, config: CleaningConfig, raw_listings: pd.DataFrame
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Clean the raw listings; rejected rows are quarantined with their reason."""
    result = clean_listings(raw_listings, config.bounds())
    clean, quarantined = result.clean, result.quarantined
    yield dg.Output(
        clean,
        output_name="clean_listings",
        metadata={
            "dagster/row_count": len(clean),
            "coordinates_cleared": result.coordinates_cleared,
            "neighborhoods": int(clean["neighborhood"].nunique()),
            "median_price": float(clean["price"].median()),
            "bounds": dg.MetadataValue.json({k: list(v) for k, v in vars(config.bounds()).items()}),
        },
    )
    reasons = pd.DataFrame(
        sorted(result.reasons.items(), key=lambda kv: -kv[1]), columns=["reason", "rows"]
    )
    yield dg.Output(
        quarantined,
        output_name="quarantined_listings",
        metadata={
            "dagster/row_count": len(quarantined),
            "share_of_raw": round(len(quarantined) / max(len(raw_listings), 1), 4),
            "reasons": dg.MetadataValue.md(reasons.to_markdown(index=False)),
        },
    )
    accounted = len(clean) + len(quarantined)
    yield dg.AssetCheckResult(
        check_name=ROWS_ACCOUNTED_FOR,
        asset_key="quarantined_listings",
        passed=accounted == len(raw_listings),
        metadata={"raw": len(raw_listings), "clean": len(clean), "quarantined": len(quarantined)},
    )
    context.log.info(f"{len(clean)} clean, {len(quarantined)} quarantined of {len(raw_listings)}")
