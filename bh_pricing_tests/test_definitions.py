"""The code location loads, and the public asset keys exist."""

import dagster as dg
import pytest

from bh_pricing.resources import build_resources, deployment

PUBLIC_ASSETS = {
    "raw_listings",
    "clean_listings",
    "quarantined_listings",
    "train_listings",
    "test_listings",
    "baseline_model",
    "ridge_model",
    "gradient_boosting_model",
    "comparables_model",
    "champion_model",
    "serving_bundle",
    "prediction_log",
}


def test_definitions_load_and_resolve(bh_home):
    from bh_pricing.definitions import defs

    defs.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    missing = PUBLIC_ASSETS - keys
    assert not missing, f"public assets missing from the graph: {missing}"


def test_batch_location_loads_and_references_the_main_graph(bh_home):
    from bh_pricing.batch_definitions import defs

    defs.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("market_batches")).partitions_def is not None
    assert not graph.get(dg.AssetKey("test_listings")).is_materializable, "defined in main"
    assert {s.name for s in defs.sensors} == {"landing_sensor", "retraining_sensor"}


def test_main_location_has_no_partitioned_assets(bh_home):
    """So that ``dagster asset materialize -m bh_pricing.definitions --select '*'`` works."""
    from bh_pricing.definitions import defs

    graph = defs.resolve_asset_graph()
    partitioned = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def]
    assert partitioned == [], f"partitioned assets would break --select '*': {partitioned}"


def test_lineage_runs_from_raw_to_champion(bh_home):
    from bh_pricing.definitions import defs

    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("champion_model")).parent_keys
    assert dg.AssetKey("test_listings") in upstream
    assert dg.AssetKey("gradient_boosting_model") in upstream
    clean_parents = graph.get(dg.AssetKey("clean_listings")).parent_keys
    assert clean_parents == {dg.AssetKey("raw_listings")}


def test_local_and_prod_resources_have_the_same_keys(bh_home):
    assert build_resources("local").keys() == build_resources("prod").keys()


def test_unknown_deployment_is_rejected(monkeypatch):
    monkeypatch.setenv("BH_PRICING_ENV", "staging")
    with pytest.raises(ValueError, match="BH_PRICING_ENV='staging' is not one of"):
        deployment()
