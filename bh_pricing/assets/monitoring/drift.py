"""Drift reports: each landed batch (``drift_report``) and the synthetic ``shifted_listings``."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.assets.monitoring.batches import MARKET_BATCHES
from bh_pricing.assets.monitoring.champion import MonitoredChampion, load_champion
from bh_pricing.constants import MONITORING
from bh_pricing.monitoring import DEFAULT_ALPHA, DriftReport, detect_drift
from bh_pricing.monitoring.plots import drift_chart
from bh_pricing.resources import MlflowTracking, MonitoringSettings

NO_DRIFT_CHECK = "no_drift"


class DriftConfig(dg.Config):
    """Family-wise false-alarm rate and the smallest batch worth testing."""

    alpha: float = Field(default=DEFAULT_ALPHA, gt=0, lt=1)
    min_rows: int = Field(default=30, ge=2)


def _no_drift_check(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        NO_DRIFT_CHECK,
        asset=asset,
        description="Fails (ERROR) when drift is detected, (WARN) when the batch is too small.",
    )


def report_metadata(
    report: DriftReport, champion: MonitoredChampion, chart: str
) -> dict[str, object]:
    """What the UI shows for one drift report."""
    numbers = {k: round(v, 4) for k, v in report.summary().items() if isinstance(v, float)}
    return {
        "verdict": report.verdict,
        "drift_detected": report.drift_detected,
        "drifted_tests": ", ".join(report.drifted_tests) or "none",
        "immaterial_tests": ", ".join(report.immaterial_tests) or "none",
        "champion_version": champion.version or "none",
        "reference": champion.reference_source,
        "n_reference": report.n_reference,
        "n_current": report.n_current,
        **numbers,
        "tests": dg.MetadataValue.md(report.to_markdown()),
        "reference_vs_current": dg.MetadataValue.md(chart),
    }


def check_result(
    report: DriftReport, asset: str, check_name: str = NO_DRIFT_CHECK
) -> dg.AssetCheckResult:
    """Pass on "no drift" (also immaterial); fail with ERROR on drift, WARN on insufficient data
    (the report's reason says why)."""
    severity = dg.AssetCheckSeverity.ERROR if report.drift_detected else dg.AssetCheckSeverity.WARN
    metadata = {"verdict": report.verdict, "drifted_tests": ", ".join(report.drifted_tests)}
    if report.reason:
        metadata["reason"] = report.reason
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset,
        passed=report.passed,
        severity=severity,
        description=report.reason or None,
        metadata=metadata,
    )


def _report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    monitoring: MonitoringSettings,
    champion: MonitoredChampion,
    current: pd.DataFrame,
    asset: str,
    title: str,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    thresholds = monitoring.drift_thresholds()
    report = detect_drift(
        champion.reference,
        current,
        champion.model,
        config.alpha,
        config.min_rows,
        thresholds=thresholds,
    )
    context.log.info(f"{title}: {report.verdict} ({', '.join(report.drifted_tests) or 'none'})")
    chart = (
        drift_chart(champion.reference, current, champion.model, title, report)
        if len(current)
        else ""
    )
    yield dg.Output(report, metadata=report_metadata(report, champion, chart))
    yield check_result(report, asset)


@dg.asset(
    partitions_def=MARKET_BATCHES,
    group_name=MONITORING,
    deps=["champion_model"],
    check_specs=[_no_drift_check("drift_report")],
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    mlflow: MlflowTracking,
    monitoring: MonitoringSettings,
    market_batches: pd.DataFrame,
    test_listings: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Drift of one landed batch against the champion's reference, with the champion's errors."""
    champion = load_champion(mlflow, test_listings)
    title = f"batch {context.partition_key}"
    yield from _report(context, config, monitoring, champion, market_batches, "drift_report", title)


@dg.asset(
    group_name=MONITORING,
    deps=["champion_model"],
    check_specs=[_no_drift_check("shifted_listings_drift")],
)
def shifted_listings_drift(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    mlflow: MlflowTracking,
    monitoring: MonitoringSettings,
    shifted_listings: pd.DataFrame,
    test_listings: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Drift of the synthetic ``shifted_listings`` (known shift): should always be detected."""
    champion = load_champion(mlflow, test_listings)
    yield from _report(
        context,
        config,
        monitoring,
        champion,
        shifted_listings,
        "shifted_listings_drift",
        "shifted_listings",
    )
