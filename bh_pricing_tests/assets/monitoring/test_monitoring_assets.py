"""Monitoring assets in-process: synthetic shift, landed batch, drift report and retraining."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bh_pricing.assets import ingest, monitoring, preparation, registry, training
from bh_pricing.constants import REGISTERED_MODEL_NAME
from bh_pricing.monitoring import DRIFT, DriftReport
from bh_pricing.resources import MonitoringSettings, RawListingsSource, build_resources

ASSETS = [
    *ingest.defs.assets,
    *preparation.defs.assets,
    *training.defs.assets,
    *registry.defs.assets,
    *monitoring.defs.assets,
    *monitoring.BATCH_ASSETS,
]
FAST = {"ops": {name: {"config": {"folds": 3}} for name in ("baseline_model", "ridge_model")}}
# Judged on MAPE: on the small sample's 50-row holdout, RMSE is dominated by one or two
# expensive listings and can tie a stale champion even after a 30-40 % shift.
RETRAIN_FAST = {"ops": {"retrained_model": {"config": {"folds": 2, "metric": "mape"}}}}


def resources(policy: str = "auto") -> dict:
    built = build_resources("local")
    built["raw_source"] = RawListingsSource(sample_rows=1200, sample_seed=5)
    built["monitoring"] = MonitoringSettings(promotion_policy=policy)
    return built


def champion_version() -> str:
    return str(MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion").version)


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A home with a champion, a synthetic shifted batch landed, and a Dagster instance."""
    home = tmp_path_factory.mktemp("monitoring_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        patch.setenv("BH_PRICING_ENV", "local")
        for name in ("MLFLOW_TRACKING_URI", "BH_PRICING_RAW_URI", "BH_PRICING_LANDING_URI"):
            patch.delenv(name, raising=False)
        instance = dg.DagsterInstance.ephemeral()
        base = dg.materialize(
            ASSETS,
            resources=resources(),
            instance=instance,
            selection="not group:monitoring",
            run_config=FAST,
        )
        assert base.success, "the base graph should build a champion"
        shifted = dg.materialize(
            ASSETS,
            resources=resources(),
            instance=instance,
            selection=["shifted_listings", "shifted_listings_drift", "shifted_batch_file"],
            run_config={
                "ops": {
                    "shifted_listings": {"config": {"low": 0.3, "high": 0.4}},
                    "shifted_batch_file": {"config": {"land": True}},
                }
            },
        )
        yield home, instance, shifted


def test_shifted_listings_are_labelled_with_the_true_shift(world) -> None:
    _, _, shifted = world
    meta = metadata(shifted, "shifted_listings")
    assert meta["synthetic"] is True, "synthetic data must say so"
    assert 0.30 <= meta["true_shift"] <= 0.40, f"true shift {meta['true_shift']} outside 30-40 %"


def test_shifted_listings_drift_is_detected_and_its_check_fails(world) -> None:
    _, _, shifted = world
    report: DriftReport = shifted.output_for_node("shifted_listings_drift")
    assert report.verdict == DRIFT, report.to_markdown()
    meta = metadata(shifted, "shifted_listings_drift")
    assert meta["reference_vs_current"].startswith("![")
    assert "residual_bias" in meta["tests"], "the per-test table should be in the metadata"
    (check,) = shifted.get_asset_check_evaluations()
    assert not check.passed, "the no_drift check should fail on a shifted batch"
    assert check.severity == dg.AssetCheckSeverity.ERROR, "drift is an ERROR"


def test_the_batch_file_lands_as_a_kaggle_csv(world) -> None:
    home, _, shifted = world
    uri = shifted.output_for_node("shifted_batch_file")
    assert Path(uri).parent == home / "landing", f"{uri} should be in the landing folder"
    assert "-shift3" in Path(uri).name, "the file name carries the true shift"
    assert pd.read_csv(uri, dtype=str).columns[0] == "address", "raw Kaggle header"


def test_a_landed_batch_is_cleaned_checked_and_retrained_on(world) -> None:
    _, instance, shifted = world
    key = Path(shifted.output_for_node("shifted_batch_file")).name
    instance.add_dynamic_partitions("market_batches", [key])
    before = champion_version()
    # when the batch partition is cleaned and checked for drift
    checked = dg.materialize(
        ASSETS,
        resources=resources(),
        instance=instance,
        partition_key=key,
        selection=["market_batches", "drift_report"],
    )
    # then the report flags drift and the check fails
    assert checked.output_for_node("drift_report").drift_detected, "shifted batch: drift"
    (check,) = checked.get_asset_check_evaluations()
    assert not check.passed, "no_drift check should fail"
    assert metadata(checked, "market_batches")["quarantined_rows"] >= 0
    # when the retraining runs on that batch
    retrained = dg.materialize(
        ASSETS,
        resources=resources(),
        instance=instance,
        partition_key=key,
        selection=["retrained_model"],
        run_config=RETRAIN_FAST,
    )
    meta = metadata(retrained, "retrained_model")
    # then a new version is registered and, having beaten the champion, becomes champion
    assert meta["promoted"] is True, meta["decision"]
    assert champion_version() == str(meta["version"]) != before, "champion alias should move"
    version = MlflowClient().get_model_version(REGISTERED_MODEL_NAME, str(meta["version"]))
    assert version.tags["drift_reference"] == meta["drift_reference"], "reference tagged"
    reference = pd.read_parquet(meta["drift_reference"])
    assert len(reference) == meta["holdout_rows"], "the holdout is the new drift reference"


def test_manual_policy_leaves_the_winner_as_challenger(world) -> None:
    _, instance, _ = world
    key = instance.get_dynamic_partitions("market_batches")[0]
    before = champion_version()
    retrained = dg.materialize(
        ASSETS,
        resources=resources(policy="manual"),
        instance=instance,
        partition_key=key,
        selection=["retrained_model"],
        run_config={"ops": {"retrained_model": {"config": {"folds": 2, "margin": 0.0}}}},
    )
    meta = metadata(retrained, "retrained_model")
    assert meta["alias"] == "challenger", meta["decision"]
    assert meta["policy"] == "manual", "the policy comes from the monitoring settings"
    assert champion_version() == before, "manual policy: champion alias does not move"
