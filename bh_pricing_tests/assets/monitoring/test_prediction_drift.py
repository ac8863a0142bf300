"""prediction_drift in-process: requests logged through the real Lambda handler, compared with
the champion's reference."""

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from bh_pricing.assets import monitoring, serving
from bh_pricing.assets.monitoring import NO_INPUT_DRIFT_CHECK
from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.cleaning import NEIGHBORHOOD_NAME
from bh_pricing.monitoring import INSUFFICIENT
from bh_pricing.resources import RawListingsSource, build_resources
from bh_pricing.serving import handler, lambda_handler
from bh_pricing_tests.assets.test_graph import FAST, GRAPH, UNPARTITIONED

ASSETS = [*GRAPH, *serving.defs.assets, monitoring.prediction_drift]
FEEDBACK = dg.AssetSelection.assets("prediction_log", "prediction_drift")


def _materialize(selection: dg.AssetSelection, run_config: dict | None = None):
    resources = build_resources("local")
    resources["raw_source"] = RawListingsSource(sample_rows=600, sample_seed=5)
    return dg.materialize(
        ASSETS, resources=resources, selection=selection, run_config=run_config or {}
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == NO_INPUT_DRIFT_CHECK
    ]
    return evaluation


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A home with the whole graph built (champion, bundle) and an empty prediction log."""
    home = tmp_path_factory.mktemp("feedback_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        patch.setenv("BH_PRICING_ENV", "local")
        for name in ("MLFLOW_TRACKING_URI", "BH_PRICING_ARTIFACTS_URI"):
            patch.delenv(name, raising=False)
        patch.setenv("BH_PRICING_PREDICTION_LOG_URI", str(home / "prediction-log"))
        result = _materialize(UNPARTITIONED, FAST)
        assert result.success
        yield home, result


def _price_through_handler(listings: list[dict[str, Any]]) -> dict[str, Any]:
    event = {
        "resource": "/{proxy+}",
        "path": "/predict",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "requestContext": {"stage": "prod", "requestId": "r-feedback"},
        "body": json.dumps(listings),
        "isBase64Encoded": False,
    }
    response = handler(event, None)
    assert response["statusCode"] == 200, response["body"]
    return json.loads(response["body"])


def _requests(test: pd.DataFrame) -> list[dict[str, Any]]:
    """Held-out listings as callers send them: display names, ids, null coordinates."""
    rows = test.assign(neighborhood=test[NEIGHBORHOOD_NAME]).loc[:, list(FEATURE_COLUMNS)]
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        | {"listing_id": f"L{i}"}
        for i, row in enumerate(rows.to_dict(orient="records"))
    ]


def test_empty_log_is_not_enough_predictions_not_an_error(built) -> None:
    _, result = built
    meta = _metadata(result, "prediction_drift")
    assert meta["verdict"] == INSUFFICIENT
    assert meta["reason"].startswith("not enough predictions: 0 logged for model version ")
    assert meta["compared_predictions"] == 0
    check = _check(result)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN, "too few predictions is a warning"


def test_requests_logged_by_the_handler_are_compared_with_the_reference(
    built, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = built
    bundle = _metadata(result, "serving_bundle")
    test = result.output_for_node("train_test", "test_listings")
    # given the handler serving the published bundle and logging every invocation
    monkeypatch.setenv("BH_PRICING_MODEL_URI", bundle["uri"])
    monkeypatch.setenv("BH_PRICING_LOG_MAX_RECORDS", "1")
    lambda_handler.reset_service(None)
    try:
        # when the held-out listings are priced through it
        body = _price_through_handler(_requests(test))
    finally:
        lambda_handler.reset_service(None)
    assert body["count"] == len(test)
    # then prediction_drift compares those requests and finds the market unchanged
    again = _materialize(FEEDBACK)
    assert again.success
    log = again.output_for_node("prediction_log")
    assert log["listing_id"].tolist() == [f"L{i}" for i in range(len(test))]
    meta = _metadata(again, "prediction_drift")
    assert meta["compared_predictions"] == meta["logged_predictions"] == len(test)
    assert meta["scope"] == f"model version {bundle['model_version']}"
    assert meta["verdict"] != INSUFFICIENT, meta
    assert _check(again).passed, meta["tests"]
    assert meta["reference_vs_current"].startswith("![requests of model version")

    # when the callers then only ask about large flats
    monkeypatch.setenv("BH_PRICING_MODEL_URI", bundle["uri"])
    large = test.assign(square_foot=(test["square_foot"] * 2.5).clip(upper=990))
    lambda_handler.reset_service(None)
    try:
        for _ in range(3):
            _price_through_handler(_requests(large))
    finally:
        lambda_handler.reset_service(None)
    drifted = _materialize(FEEDBACK)
    # then the check fails with ERROR naming the drifted feature
    check = _check(drifted)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "square_foot" in _metadata(drifted, "prediction_drift")["drifted_tests"]
