"""Synthetic market shifts: ``shifted_listings`` and a way to drop them in the landing location."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.constants import MONITORING
from bh_pricing.core.shift import shift_prices, write_batch
from bh_pricing.io.storage import join
from bh_pricing.monitoring.retraining import split_holdout
from bh_pricing.resources import Locations

FACTOR_COLUMN = "shift_factor"


class ShiftConfig(dg.Config):
    """Each price is multiplied by a factor drawn uniformly from [1 + low, 1 + high]."""

    low: float = Field(default=0.10, gt=-1)
    high: float = Field(default=0.20, gt=-1)
    seed: int = 0
    rows: int | None = Field(default=None, description="Resample this many rows (default: all)")


@dg.asset(group_name=MONITORING, kinds={"pandas"})
def shifted_listings(
    config: ShiftConfig, test_listings: pd.DataFrame
) -> dg.MaterializeResult[pd.DataFrame]:
    """SYNTHETIC: held-out listings with prices raised by a known factor (``shift_factor``).

    Drawn from the half of the test listings that is not the drift reference.
    """
    _, pool = split_holdout(test_listings)
    replace = config.rows is not None and config.rows > len(pool)
    shifted = shift_prices(pool, config.low, config.high, config.seed, config.rows, replace)
    frame = shifted.frame.assign(**{FACTOR_COLUMN: shifted.factors})
    summary = shifted.summary()
    return dg.MaterializeResult(
        value=frame.reset_index(drop=True),
        metadata={
            "synthetic": True,
            "label": f"synthetic: price x U[{1 + config.low:.3f}, {1 + config.high:.3f}]",
            "true_shift": round(summary["true_shift"], 4),
            "min_factor": round(summary["min_factor"], 4),
            "max_factor": round(summary["max_factor"], 4),
            "seed": config.seed,
            "dagster/row_count": len(frame),
        },
    )


class LandingConfig(dg.Config):
    """Writing synthetic data where real batches land is opt-in (the drop_shifted_batch job)."""

    land: bool = Field(
        default=False, description="Write the synthetic batch to the landing location"
    )


@dg.asset(group_name=MONITORING, kinds={"csv"}, output_required=False)
def shifted_batch_file(
    context: dg.AssetExecutionContext,
    config: LandingConfig,
    locations: Locations,
    shifted_listings: pd.DataFrame,
) -> Iterator[dg.Output[str]]:
    """Drop ``shifted_listings`` in the landing location as a new Kaggle-format CSV batch.

    Only with ``land: true`` (the default of the ``drop_shifted_batch`` job): materializing the
    whole graph must never feed synthetic prices to the retraining loop.
    """
    if not config.land:
        context.log.info("land is false: no synthetic batch written (run drop_shifted_batch)")
        return
    true_shift = float(shifted_listings[FACTOR_COLUMN].mean() - 1)
    name = f"synthetic-{context.run.run_id[:8]}-shift{round(100 * true_shift)}pct.csv"
    uri = write_batch(shifted_listings, join(locations.landing_uri, name))
    context.log.info(f"wrote {len(shifted_listings)} listings to {uri}")
    yield dg.Output(
        uri,
        metadata={
            "uri": uri,
            "synthetic": True,
            "true_shift": round(true_shift, 4),
            "dagster/row_count": len(shifted_listings),
        },
    )


drop_shifted_batch = dg.define_asset_job(
    "drop_shifted_batch",
    selection=[shifted_listings, shifted_batch_file],
    config={"ops": {"shifted_batch_file": {"config": {"land": True}}}},
    description="Write a synthetic shifted batch to the landing location (shift set in config).",
)
