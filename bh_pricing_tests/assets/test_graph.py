"""The whole graph materialized in-process on the sample source with a temporary MLflow store."""

import io
import math
import subprocess
import sys
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bh_pricing.assets import ingest, monitoring, preparation, registry, training
from bh_pricing.constants import CHAMPION_URI, FEATURE_COLUMNS, REGISTERED_MODEL_NAME
from bh_pricing.core.models import CANDIDATES
from bh_pricing.resources import RawListingsSource, build_resources

GRAPH = [
    *ingest.defs.assets,
    *preparation.defs.assets,
    *training.defs.assets,
    *registry.defs.assets,
    *monitoring.BATCH_ASSETS,
]
UNPARTITIONED = dg.AssetSelection.all() - dg.AssetSelection.assets(*monitoring.BATCH_ASSETS)
FAST = {"ops": {name: {"config": {"folds": 3}} for name in ("baseline_model", "ridge_model")}}


def materialize(
    home: Path, selection: str | dg.AssetSelection = UNPARTITIONED, run_config: dict | None = None
):
    resources = build_resources("local")
    resources["raw_source"] = RawListingsSource(sample_rows=1200, sample_seed=3)
    return dg.materialize(
        GRAPH, resources=resources, selection=selection, run_config=run_config or FAST
    )


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("graph_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        patch.setenv("BH_PRICING_ENV", "local")
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = materialize(home)
        yield home, result


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    events = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    assert len(events) == 1, f"{key} should be materialized once, got {len(events)}"
    (event,) = events
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_every_asset_and_check_succeeds(first_run):
    _, result = first_run
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("rows_accounted_for", True)]


def test_raw_metadata_names_source_rows_and_hash(first_run):
    meta = metadata(first_run[1], "raw_listings")
    assert meta["source"] == "sample(rows=1200, seed=3)"
    assert meta["dagster/row_count"] == 1200
    assert len(meta["content_sha256"]) == 64


def test_clean_plus_quarantined_is_raw(first_run):
    _, result = first_run
    clean = result.output_for_node("cleaned_and_quarantined", "clean_listings")
    quarantined = result.output_for_node("cleaned_and_quarantined", "quarantined_listings")
    assert len(clean) + len(quarantined) == 1200
    assert quarantined["reason"].str.len().gt(0).all(), "every quarantined row has a reason"


def test_split_is_80_20_and_disjoint(first_run):
    _, result = first_run
    train = result.output_for_node("train_test", "train_listings")
    test = result.output_for_node("train_test", "test_listings")
    clean = result.output_for_node("cleaned_and_quarantined", "clean_listings")
    assert len(train) + len(test) == len(clean)
    assert abs(len(test) / len(clean) - 0.2) < 0.01


@pytest.mark.parametrize("candidate", ["baseline", "ridge", "gradient_boosting", "comparables"])
def test_each_candidate_is_one_finished_mlflow_run(first_run, candidate):
    _, result = first_run
    meta = metadata(result, f"{candidate}_model")
    run = MlflowClient().get_run(meta["mlflow_run_id"])
    assert run.info.status == "FINISHED", f"{candidate} run should be complete"
    assert run.data.tags["dagster_run_id"] == result.run_id
    assert run.data.tags["candidate"] == candidate
    for metric in ("cv_rmse", "cv_mae", "cv_mape", "cv_r2", "cv_rmse_std"):
        assert metric in run.data.metrics, f"{candidate} should log {metric}"
        assert meta[metric] == pytest.approx(run.data.metrics[metric], rel=1e-3)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    if candidate == "ridge":
        assert "search" in artifacts, "the search table is logged once, as an artifact"


def test_the_search_logs_one_model_not_one_per_trial(first_run):
    meta = metadata(first_run[1], "ridge_model")
    assert meta["search_trials"] > 1
    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("bh-pricing").experiment_id],
        filter_string=f"tags.dagster_run_id = '{first_run[1].run_id}'",
    )
    assert len(runs) == len(CANDIDATES), "one MLflow run per candidate, none per trial"


def test_first_model_becomes_champion_with_evidence(first_run):
    meta = metadata(first_run[1], "champion_model")
    assert meta["alias"] == "champion"
    assert meta["promoted"] is True
    assert meta["decision"] == "no current champion"
    assert meta["champion_version"] == meta["version"], "names the registry's champion"
    assert "champion_test_rmse" not in meta, "no sentinel for a champion that did not exist"
    assert meta["mlflow_run"].startswith("http"), "a link to the MLflow run"
    assert meta["predicted_vs_actual"].startswith("![")
    assert "| neighborhood" in meta["residuals_by_neighborhood"]
    assert 0.5 < meta["test_interval_coverage"] <= 1, "80 % interval measured on test_listings"
    assert meta["test_interval_mean_width"] > 0
    version = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
    assert int(version.version) == meta["version"]
    assert version.tags["decision"] == "champion"
    for tag in ("candidate", "decision_reason", "candidate_score", "champion_score", "trigger"):
        assert version.tags[tag], f"every version carries {tag}"
    assert version.tags["trigger"] == "initial"
    run = MlflowClient().get_run(version.run_id)
    assert run.info.run_name == f"{version.tags['candidate']} · initial", run.info.run_name
    assert "test_mae" in run.data.metrics, "test metrics for the bundle manifest"


def test_champion_serves_the_pyfunc_contract(first_run):
    model = mlflow.pyfunc.load_model(CHAMPION_URI)
    listings = pd.DataFrame(
        {
            "neighborhood": ["Lourdes", "Nowhere Known", "Buritis"],
            "square_foot": [120, 65.0, 80.0],
            "rooms": [3, 2.0, 2.0],
            "garage_places": [2, 1.0, 0.0],
            "adm_fees": [900.0, 0.0, 350.0],
            "latitude": [-19.932, np.nan, -19.975],
            "longitude": [-43.944, np.nan, -43.968],
        },
        columns=list(FEATURE_COLUMNS),
    )
    output = model.predict(listings)
    prices = output["price"].to_numpy()
    assert prices.shape == (3,)
    assert (output["interval_low"] < output["price"]).all()
    assert (output["price"] < output["interval_high"]).all()
    assert all(math.isfinite(p) and 5e4 < p < 1e7 for p in prices), f"prices in BRL: {prices}"
    assert prices[0] > prices[2], "a larger Lourdes flat costs more than a Buritis one"


# A fresh interpreter where bh_pricing cannot be imported: the editable install's finder removed.
_LOAD_WITHOUT_PACKAGE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
try:
    import bh_pricing
except ImportError:
    pass
else:
    raise SystemExit("bh_pricing should not be importable here")
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
rows = pd.read_json(sys.argv[3], orient="split")
rows = rows.astype({c: float for c in rows.columns if c != "neighborhood"})
print(model.predict(rows)["price"].to_json())
"""


@pytest.mark.parametrize("asset", ["gradient_boosting_model", "comparables_model"])
def test_tree_models_load_where_bh_pricing_is_not_installed(first_run, tmp_path, asset):
    # given a tree candidate, holding classes of this package, logged by the graph
    model_uri = metadata(first_run[1], asset)["model_uri"]
    rows = first_run[1].output_for_node("train_test", "test_listings").head(5)
    features = rows.loc[:, list(FEATURE_COLUMNS)]
    expected = mlflow.pyfunc.load_model(model_uri).predict(features)["price"]
    # when a process without the package loads it through pyfunc
    frame = tmp_path / "rows.json"
    features.to_json(frame, orient="split")
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT_PACKAGE, mlflow.get_tracking_uri(), model_uri, frame],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # then the package source logged with the model is used, and the prices are the same
    assert done.returncode == 0, done.stderr[-3000:]
    served = pd.read_json(io.StringIO(done.stdout.strip().splitlines()[-1]), typ="series")
    np.testing.assert_allclose(served.to_numpy(), expected, rtol=1e-9)


def test_rerun_on_the_same_data_does_not_replace_the_champion(first_run):
    home, _first = first_run
    champion_before = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        second = materialize(home)
    meta = metadata(second, "champion_model")
    assert meta["alias"] == "challenger", meta["decision"]
    assert "does not beat" in meta["decision"]
    assert meta["champion_version"] == int(champion_before.version), "names the kept champion"
    champion_after = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
    assert champion_after.version == champion_before.version, "the champion alias did not move"
    challenger = MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, "challenger")
    assert int(challenger.version) == meta["version"]


def test_bad_raw_source_fails_naming_it(first_run, tmp_path):
    home, _ = first_run
    missing = tmp_path / "missing.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BH_PRICING_HOME", str(home))
        with pytest.raises(Exception, match=f"cannot read {missing}"):
            materialize(
                home,
                selection="raw_listings",
                run_config={"ops": {"raw_listings": {"config": {"uri": str(missing)}}}},
            )
