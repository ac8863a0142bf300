"""``endpoint_smoke``: after ``serving_bundle`` publishes, the endpoint must answer like the bundle.

The comparison and the rollback are plain functions (``bh_pricing.serving.smoke``); this check
only reads what ``serving_bundle`` recorded (the pointer it published and the one before) and
which endpoint to call (the ``serving_endpoint`` resource).
"""

import dagster as dg
import pandas as pd

from bh_pricing.resources import Locations, ServingEndpoint
from bh_pricing.serving.bundle import PARITY_TOLERANCE
from bh_pricing.serving.manifest import CurrentPointer
from bh_pricing.serving.smoke import SMOKE_ROWS, smoke_listings, smoke_test

ENDPOINT_SMOKE = "endpoint_smoke"
SERVING_BUNDLE = dg.AssetKey("serving_bundle")


@dg.asset_check(
    asset=SERVING_BUNDLE,
    name=ENDPOINT_SMOKE,
    blocking=True,
    additional_ins={"test_listings": dg.AssetIn("test_listings")},
    description=(
        f"{SMOKE_ROWS} test listings through the endpoint (Lambda handler in-process, "
        "BH_PRICING_SMOKE_URL or BH_PRICING_SMOKE_LAMBDA) answer with the published version and "
        "the bundle's prices within "
        f"{PARITY_TOLERANCE:.1%}; on failure current.json is restored to the previous bundle."
    ),
)
def endpoint_smoke(
    context: dg.AssetCheckExecutionContext,
    locations: Locations,
    serving_endpoint: ServingEndpoint,
    test_listings: pd.DataFrame,
) -> dg.AssetCheckResult:
    """Call the endpoint on the bundle ``serving_bundle`` published; roll back when it fails."""
    event = context.instance.get_latest_materialization_event(SERVING_BUNDLE)
    if event is None or event.asset_materialization is None:
        raise dg.Failure("serving_bundle has no materialization to check")
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    if not meta.get("pointer"):
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description="serving_bundle published nothing (parity failed): nothing to call",
        )
    root = locations.bundles_uri()
    endpoint = serving_endpoint.endpoint(root)
    previous = meta.get("previous_pointer")
    outcome = smoke_test(
        endpoint,
        root,
        CurrentPointer.model_validate(meta["pointer"]),
        CurrentPointer.model_validate(previous) if previous else None,
        smoke_listings(test_listings),
        restore=bool(meta.get("published_this_run")),
        wait_seconds=serving_endpoint.wait_for_version(),
    )
    report = outcome.report
    if not report.passed:
        context.log.error(f"endpoint smoke failed: {report.reason}; {outcome.rollback}")
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.reason if report.passed else f"{report.reason}; {outcome.rollback}",
        metadata={
            "endpoint": endpoint.description,
            "rows": report.rows,
            "status": report.status,
            "served_version": report.served_version or "none",
            "expected_version": report.expected_version,
            "max_relative_error": (
                "none" if report.max_relative_error is None else report.max_relative_error
            ),
            "tolerance": report.tolerance,
            "rollback": outcome.rollback,
        },
    )
