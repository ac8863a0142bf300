"""``clean_listings`` and ``quarantined_listings``: one cleaning pass, two outputs."""

from collections.abc import Iterator
from dataclasses import fields

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.assets.preparation.dagster_types import CleanListingsType, column_schema
from bh_pricing.constants import PREPARATION
from bh_pricing.contract import DEFAULT_BOUNDS, Bounds
from bh_pricing.core.cleaning import clean_listings

ROWS_ACCOUNTED_FOR = "rows_accounted_for"


class CleaningConfig(dg.Config):
    """Plausible ranges (inclusive), defaults from ``bh_pricing.contract.Bounds``: listings with a
    price, area, room or garage count outside are quarantined; fees outside are cleared to
    "no fee" and coordinates outside to missing (both counted in metadata)."""

    price_min: float = Field(default=DEFAULT_BOUNDS.price[0], description="BRL")
    price_max: float = Field(default=DEFAULT_BOUNDS.price[1], description="BRL")
    square_foot_min: float = Field(default=DEFAULT_BOUNDS.square_foot[0], description="m²")
    square_foot_max: float = Field(default=DEFAULT_BOUNDS.square_foot[1], description="m²")
    rooms_min: float = DEFAULT_BOUNDS.rooms[0]
    rooms_max: float = DEFAULT_BOUNDS.rooms[1]
    garage_places_min: float = DEFAULT_BOUNDS.garage_places[0]
    garage_places_max: float = DEFAULT_BOUNDS.garage_places[1]
    adm_fees_min: float = Field(default=DEFAULT_BOUNDS.adm_fees[0], description="BRL per month")
    adm_fees_max: float = Field(default=DEFAULT_BOUNDS.adm_fees[1], description="BRL per month")
    latitude_min: float = DEFAULT_BOUNDS.latitude[0]
    latitude_max: float = DEFAULT_BOUNDS.latitude[1]
    longitude_min: float = DEFAULT_BOUNDS.longitude[0]
    longitude_max: float = DEFAULT_BOUNDS.longitude[1]

    def bounds(self) -> Bounds:
        """The configured ranges as the contract's ``Bounds`` (ValueError if one is inverted)."""
        return Bounds(
            **{
                item.name: (getattr(self, f"{item.name}_min"), getattr(self, f"{item.name}_max"))
                for item in fields(Bounds)
            }
        )


@dg.multi_asset(
    outs={
        "clean_listings": dg.AssetOut(
            group_name=PREPARATION,
            dagster_type=CleanListingsType,
            kinds={"pandas"},
            description="Typed, de-duplicated listings within bounds (Pandera CleanListings).",
            metadata=column_schema(CleanListingsType),
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
            "fees_cleared": result.fees_cleared,
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
