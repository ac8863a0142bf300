"""``prediction_drift``: served requests (``prediction_log``) against the champion's reference."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from bh_pricing.assets.monitoring.champion import load_champion
from bh_pricing.assets.monitoring.drift import DriftConfig, check_result, report_metadata
from bh_pricing.constants import MONITORING
from bh_pricing.monitoring.input_drift import input_drift
from bh_pricing.monitoring.plots import input_drift_chart
from bh_pricing.resources import MlflowTracking, MonitoringSettings

NO_INPUT_DRIFT_CHECK = "no_input_drift"


@dg.asset(
    group_name=MONITORING,
    deps=["champion_model"],
    check_specs=[
        dg.AssetCheckSpec(
            NO_INPUT_DRIFT_CHECK,
            asset="prediction_drift",
            description="Fails (ERROR) when the requests drifted from the champion's reference, "
            "(WARN) when too few predictions were logged.",
        )
    ],
)
def prediction_drift(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    mlflow: MlflowTracking,
    monitoring: MonitoringSettings,
    prediction_log: pd.DataFrame,
    test_listings: pd.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Feature drift of the requests the current champion priced (every logged request before
    the first champion) against its reference; no labels needed."""
    champion = load_champion(mlflow, test_listings)
    result = input_drift(
        champion.reference,
        prediction_log,
        champion.version,
        config.alpha,
        config.min_rows,
        monitoring.drift_thresholds(),
    )
    report = result.report
    context.log.info(f"requests of {result.scope}: {report.verdict} {report.reason}".strip())
    title = f"requests of {result.scope}"
    chart = (
        input_drift_chart(champion.reference, result.requests, title, report)
        if report.tests
        else ""
    )
    metadata = report_metadata(report, champion, chart) | {
        "scope": result.scope,
        "logged_predictions": result.logged,
        "compared_predictions": result.compared,
    }
    if report.reason:
        metadata["reason"] = report.reason
    yield dg.Output(report, metadata=metadata)
    yield check_result(report, "prediction_drift", NO_INPUT_DRIFT_CHECK)
