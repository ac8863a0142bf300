"""realized_errors in-process: a landed batch with listing ids, a prediction log written by the
endpoint's log writer for some of them, and the champion's verdict."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from mlflow import pyfunc
from mlflow.tracking import MlflowClient

from bh_pricing.assets import ingest, monitoring, preparation, registry, serving, training
from bh_pricing.assets.monitoring import REALIZED_ERRORS_CHECK
from bh_pricing.constants import CHAMPION_URI, FEATURE_COLUMNS, LISTING_ID, REGISTERED_MODEL_NAME
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io.model_logging import PriceOnly
from bh_pricing.monitoring.realized import DEGRADED, NO_IDS, PASSING
from bh_pricing.resources import RawListingsSource, build_resources
from bh_pricing.sensors.landing import check_market_batch
from bh_pricing.serving.predlog import PredictionLog

ASSETS = [
    *ingest.defs.assets,
    *preparation.defs.assets,
    *training.defs.assets,
    *registry.defs.assets,
    *serving.defs.assets,
    *monitoring.defs.assets,
]
BASE = dg.AssetSelection.groups("ingest", "preparation", "training", "registry")
FAST = {"ops": {name: {"config": {"folds": 3}} for name in ("baseline_model", "ridge_model")}}


def resources() -> dict[str, Any]:
    built = build_resources("local")
    built["raw_source"] = RawListingsSource(sample_rows=1200, sample_seed=5)
    return built


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dg.DagsterInstance]]:
    """A home with a champion and its test listings, and a Dagster instance."""
    home = tmp_path_factory.mktemp("realized_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        patch.setenv("BH_PRICING_ENV", "local")
        for name in (
            "MLFLOW_TRACKING_URI",
            "BH_PRICING_RAW_URI",
            "BH_PRICING_LANDING_URI",
            "BH_PRICING_PREDICTION_LOG_URI",
        ):
            patch.delenv(name, raising=False)
        instance = dg.DagsterInstance.ephemeral()
        base = dg.materialize(
            ASSETS, resources=resources(), instance=instance, selection=BASE, run_config=FAST
        )
        assert base.success, "the base graph should build a champion"
        yield home, instance


def land(home: Path, instance: dg.DagsterInstance, name: str, seed: int, ids: bool) -> str:
    """Write a raw batch (with a listing_id column when ``ids``) and register its partition."""
    raw = generate_raw_listings(300, seed)
    if ids:
        raw[LISTING_ID] = [f"{name}-{i}" for i in range(len(raw))]
    (home / "landing").mkdir(exist_ok=True)
    (home / "landing" / name).write_text(raw.to_csv(index=False))
    instance.add_dynamic_partitions("market_batches", [name])
    return name


def clean_batch(instance: dg.DagsterInstance, key: str) -> pd.DataFrame:
    cleaned = dg.materialize(
        ASSETS,
        resources=resources(),
        instance=instance,
        partition_key=key,
        selection=["market_batches"],
    )
    return cleaned.output_for_node("market_batches")


def log_predictions(home: Path, listings: pd.DataFrame, version: str, factor: float) -> None:
    """Price ``listings`` with the champion (times ``factor``) and log them as ``version``,
    through the endpoint's log writer."""
    features = listings.loc[:, list(FEATURE_COLUMNS)]
    prices = PriceOnly(pyfunc.load_model(CHAMPION_URI)).predict(features) * factor
    inputs = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        | {LISTING_ID: listing_id}
        for row, listing_id in zip(
            features.to_dict(orient="records"), listings[LISTING_ID], strict=True
        )
    ]
    log = PredictionLog(str(home / "prediction-log"))
    log.record(f"req-{version}-{factor}", version, inputs, prices.tolist())
    assert log.flush()


def check_batch(instance: dg.DagsterInstance, key: str) -> dg.ExecuteInProcessResult:
    """The batch's realized errors, as the landing sensor's job runs them (market batch reused)."""
    result = dg.materialize(
        ASSETS,
        resources=resources(),
        instance=instance,
        partition_key=key,
        selection=["realized_errors"],
    )
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == REALIZED_ERRORS_CHECK
    return evaluation


def champion_version() -> str:
    return str(MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion").version)


def test_served_listings_get_realized_errors_per_model_version(world) -> None:
    home, instance = world
    # given a landed batch with ids, most priced by the champion and some by an older version
    key = land(home, instance, "ids-2026-02.csv", seed=11, ids=True)
    clean = clean_batch(instance, key)
    assert clean[LISTING_ID].notna().all(), "cleaning keeps the ids"
    champion = champion_version()
    served = clean.iloc[: len(clean) * 2 // 3]
    log_predictions(home, served, champion, factor=1.0)
    log_predictions(home, clean.iloc[:20], "0", factor=1.3)
    # when its realized errors are measured
    result = check_batch(instance, key)
    meta = metadata(result)
    # then each version is measured on its own matched listings
    assert meta["champion_version"] == champion
    assert meta["champion_matched"] == len(served), meta["reason"]
    assert meta["matched_listings"] == len(served)
    assert meta["batch_listing_ids"] == len(clean)
    assert meta["logged_predictions"] == len(served) + 20
    table = meta["by_model_version"]
    assert f"| {champion} " in table, table
    assert "| 0 " in table, table
    # and the champion priced this market as it priced its holdout: within tolerance
    assert meta["verdict"] in PASSING, meta["reason"]
    assert meta["degraded"] is False
    assert meta["served_vs_realized"].startswith("![realized errors, batch ids-2026-02.csv]")
    assert check(result).passed, meta["reason"]


def test_a_champion_far_off_the_realized_prices_is_degraded(world) -> None:
    home, instance = world
    # given a batch whose listings were served at 60 % of the champion's own prices
    key = land(home, instance, "ids-2026-03.csv", seed=12, ids=True)
    clean = clean_batch(instance, key)
    log_predictions(home, clean, champion_version(), factor=0.6)
    # when its realized errors are measured, then the check fails with ERROR
    result = check_batch(instance, key)
    meta = metadata(result)
    assert meta["verdict"] == DEGRADED, meta["reason"]
    assert meta["degraded"] is True
    assert meta["mape_increase"] >= 0.25
    assert meta["champion_median_log_error"] > 0.4, "prices well above the served ones"
    evaluation = check(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_a_batch_without_ids_warns(world) -> None:
    home, instance = world
    key = land(home, instance, "no-ids.csv", seed=13, ids=False)
    clean_batch(instance, key)
    result = check_batch(instance, key)
    meta = metadata(result)
    assert meta["verdict"] == NO_IDS
    assert meta["reason"] == "the batch has no listing_id column"
    assert "served_vs_realized" not in meta, "nothing matched, no chart"
    evaluation = check(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN


def test_the_landing_sensors_job_measures_realized_errors() -> None:
    keys = {k.to_user_string() for k in check_market_batch.selection.resolve(graph())}
    assert keys == {"market_batches", "drift_report", "realized_errors"}, keys


def graph():
    from bh_pricing.definitions import defs

    return defs().resolve_asset_graph()
