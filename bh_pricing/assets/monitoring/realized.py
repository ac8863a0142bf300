"""``realized_errors``: the prices a landed batch shows against the predictions served for its
listings (matched by ``listing_id``), per model version, with the champion's verdict."""

from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES
from bh_pricing.assets.monitoring.champion import load_champion
from bh_pricing.constants import LISTING_ID, MONITORING
from bh_pricing.monitoring.drift import log_ratio
from bh_pricing.monitoring.plots import realized_chart
from bh_pricing.monitoring.realized import (
    RealizedErrors,
    RealizedSettings,
    measure_realized_errors,
)
from bh_pricing.resources import Locations, MlflowTracking, MonitoringSettings
from bh_pricing.serving.log_reader import read_prediction_log

REALIZED_ERRORS_CHECK = "realized_errors_within_tolerance"
_DEFAULTS = RealizedSettings()


class RealizedConfig(dg.Config):
    """Significance of the champion's one-sided test and the least matched listings to run it
    (the minimum effect is the ``monitoring`` resource's ``min_realized_mape_increase``)."""

    alpha: float = Field(default=_DEFAULTS.alpha, gt=0, lt=1)
    min_rows: int = Field(default=_DEFAULTS.min_rows, ge=2)


def realized_metadata(result: RealizedErrors, logged: int, chart: str) -> dict[str, object]:
    """What the UI shows for one batch's realized errors."""
    metadata: dict[str, object] = {
        "verdict": result.verdict,
        "degraded": result.degraded,
        "reason": result.reason,
        "champion_version": result.champion_version or "none",
        "logged_predictions": logged,
        "batch_listing_ids": result.batch_ids,
        "ambiguous_ids": result.ambiguous_ids,
        "matched_listings": int(result.matched[LISTING_ID].nunique()),
        "champion_matched": result.champion_matched,
        "dagster/row_count": len(result.matched),
        "by_model_version": dg.MetadataValue.md(result.to_markdown()),
    }
    champion = result.versions[result.versions["model_version"] == result.champion_version]
    if len(champion):
        metadata["champion_median_log_error"] = round(
            float(champion["median_log_error"].iloc[0]), 4
        )
    numbers = {
        "p_value": result.p_value,
        "champion_mape": result.champion_mape,
        "reference_mape": result.reference_mape,
        "mape_increase": result.mape_increase,
    }
    metadata |= {k: round(v, 4) for k, v in numbers.items() if v is not None}
    if chart:
        metadata["served_vs_realized"] = dg.MetadataValue.md(chart)
    return metadata


def check_result(result: RealizedErrors) -> dg.AssetCheckResult:
    """Pass within tolerance; ERROR when degraded; WARN for insufficient data or no ids."""
    return dg.AssetCheckResult(
        check_name=REALIZED_ERRORS_CHECK,
        asset_key="realized_errors",
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if result.degraded else dg.AssetCheckSeverity.WARN,
        description=result.reason,
        metadata={"verdict": result.verdict, "champion_matched": result.champion_matched},
    )


@dg.asset(
    partitions_def=MARKET_BATCHES,
    group_name=MONITORING,
    deps=["champion_model", "prediction_log"],
    check_specs=[
        dg.AssetCheckSpec(
            REALIZED_ERRORS_CHECK,
            asset="realized_errors",
            description="Fails (ERROR) when the champion's realized errors are significantly "
            "and materially worse than on its holdout, (WARN) when the batch has no listing ids "
            "or too few of them were priced by the champion.",
        )
    ],
)
def realized_errors(
    context: dg.AssetExecutionContext,
    config: RealizedConfig,
    mlflow: MlflowTracking,
    monitoring: MonitoringSettings,
    locations: Locations,
    market_batches: pd.DataFrame,
    test_listings: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Realized errors of the predictions served for this batch's listings, per model version.

    The prediction log is read from ``locations.prediction_log_uri`` when the batch is checked,
    not loaded as the ``prediction_log`` asset (hence ``deps``, not an input): that asset is a
    snapshot taken whenever ``build_graph`` last ran, so it would miss every prediction served
    since, and adding it to ``check_market_batch`` would re-materialize a serving asset on
    every landed batch. The champion's holdout errors are measured on its drift reference
    (``load_champion``).
    """
    log = read_prediction_log(locations.prediction_log_uri)
    champion = load_champion(mlflow, test_listings)
    reference = (
        np.array([]) if champion.model is None else log_ratio(champion.reference, champion.model)
    )
    result = measure_realized_errors(
        log,
        market_batches,
        champion.version,
        reference,
        monitoring.realized_settings(config.alpha, config.min_rows),
    )
    title = f"realized errors, batch {context.partition_key}"
    context.log.info(f"{title}: {result.verdict} ({result.reason})")
    chart = realized_chart(result, reference, title) if len(result.matched) else ""
    yield dg.Output(result, metadata=realized_metadata(result, len(log), chart))
    yield check_result(result)
