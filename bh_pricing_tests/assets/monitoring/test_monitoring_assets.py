"""Monitoring assets in-process: synthetic shift, landed batch, drift report, and the retraining
that re-materializes the training graph with the batch."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bh_pricing.assets import ingest, monitoring, preparation, registry, serving, training
from bh_pricing.constants import REGISTERED_MODEL_NAME
from bh_pricing.monitoring import DRIFT, DriftReport
from bh_pricing.resources import MonitoringSettings, RawListingsSource, build_resources
from bh_pricing.sensors.retraining import RETRAINING_SELECTION

ASSETS = [
    *ingest.defs.assets,
    *preparation.defs.assets,
    *training.defs.assets,
    *registry.defs.assets,
    *serving.defs.assets,
    *monitoring.defs.assets,
]
FAST = {"ops": {name: {"config": {"folds": 3}} for name in ("baseline_model", "ridge_model")}}


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
    # when the retraining re-materializes the training graph, as the sensor's job does
    retrained = retrain(instance, key)
    # then the training data holds the batch, weighted, and its holdout is in test_listings
    train = metadata(retrained, "train_listings")
    assert train["batches"] == key, train["batches"]
    assert key in train["rows_by_batch"]
    test = retrained.output_for_node("train_test", "test_listings")
    assert (test["batch"] == key).sum() > 0, "a held-out part of the batch scores the models"
    weights = (
        retrained.output_for_node("train_test", "train_listings")
        .groupby("batch")["sample_weight"]
        .first()
    )
    assert weights[key] == 1.0
    assert weights["clean_listings"] < 1.0, "the older market weighs less"
    # and champion_model decides on the evidence and names the registry's champion either way
    # (on this small sample, ~50 held-out rows, the weighted candidate may not be better)
    meta = metadata(retrained, "champion_model")
    assert champion_version() == str(meta["champion_version"]), meta["decision"]
    if meta["promoted"]:
        assert meta["champion_version"] == meta["version"] != int(before)
    else:
        assert meta["alias"] == "challenger"
        assert meta["champion_version"] == int(before), "the champion was kept"
    assert meta["trigger"] == f"retrain {key}"
    version = MlflowClient().get_model_version(REGISTERED_MODEL_NAME, str(meta["version"]))
    assert version.tags["trigger"] == f"retrain {key}"
    assert version.tags["champion_score"] != "none", "scored against the previous champion"
    assert MlflowClient().get_run(version.run_id).info.run_name.endswith(f"retrain {key}")
    # and the bundle follows in the same run
    bundle = metadata(retrained, "serving_bundle")
    assert bundle["model_version"] == champion_version(), bundle["action"]


def test_manual_policy_leaves_the_winner_as_challenger(world) -> None:
    _, instance, _ = world
    key = instance.get_dynamic_partitions("market_batches")[0]
    before = champion_version()
    retrained = retrain(instance, key, policy="manual", margin=0.0)
    meta = metadata(retrained, "champion_model")
    assert meta["alias"] == "challenger", meta["decision"]
    assert meta["policy"] == "manual", "the policy comes from the monitoring settings"
    assert meta["champion_version"] == int(before), "names the champion it kept"
    assert champion_version() == before, "manual policy: champion alias does not move"


def retrain(
    instance: dg.DagsterInstance, batch: str, policy: str = "auto", margin: float = 0.01
) -> dg.ExecuteInProcessResult:
    """The retraining sensor's selection, run in-process with the sensor's tag."""
    run_config = {
        "ops": {
            **FAST["ops"],
            "champion_model": {"config": {"metric": "mape", "margin": margin}},
        }
    }
    result = dg.materialize(
        ASSETS,
        resources=resources(policy),
        instance=instance,
        selection=RETRAINING_SELECTION,
        run_config=run_config,
        tags={"bh_pricing/drift_batch": batch},
    )
    assert result.success
    return result
