"""The code location loads, and the public asset keys exist."""

import dagster as dg
import pytest

from bh_pricing.resources import DEPLOYMENTS, ServingEndpoint, build_resources, deployment
from bh_pricing.serving.smoke_endpoints import HttpEndpoint, LambdaEndpoint, LocalHandler

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


def load():
    from bh_pricing.definitions import defs

    return defs()


def test_definitions_load_and_resolve(bh_home):
    defs = load()
    defs.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    missing = PUBLIC_ASSETS - keys
    assert not missing, f"public assets missing from the graph: {missing}"


def test_one_location_holds_the_batches_the_sensors_and_the_jobs(bh_home):
    defs = load()
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("market_batches")).partitions_def is not None
    assert graph.get(dg.AssetKey("test_listings")).is_materializable, "defined here"
    assert {s.name for s in defs.sensors} == {"landing_sensor", "retraining_sensor"}
    assert {j.name for j in defs.jobs} >= {"build_graph", "retrain_on_drift", "check_market_batch"}


def test_resources_are_read_when_definitions_load_not_at_import(bh_home, monkeypatch):
    # given the module imported under one home
    from bh_pricing import definitions

    # when the location loads after the environment changed
    monkeypatch.setenv("BH_PRICING_LANDING_URI", "/elsewhere/landing")
    resources = definitions.defs().resources
    # then the resources follow the environment at load time
    assert resources["locations"].landing_uri == "/elsewhere/landing"


def test_build_graph_holds_every_unpartitioned_asset(bh_home):
    """So that ``dagster job execute -m bh_pricing.definitions -j build_graph`` builds it all."""
    defs = load()
    graph = defs.resolve_asset_graph()
    selected = defs.resolve_job_def("build_graph").asset_layer.selected_asset_keys
    unpartitioned = {
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and graph.get(k).partitions_def is None
    }
    assert selected == unpartitioned


def test_training_data_depends_on_the_landed_batches(bh_home):
    graph = load().resolve_asset_graph()
    parents = graph.get(dg.AssetKey("train_listings")).parent_keys
    assert parents == {dg.AssetKey("clean_listings"), dg.AssetKey("market_batches")}


def test_lineage_runs_from_raw_to_champion(bh_home):
    graph = load().resolve_asset_graph()
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


@pytest.mark.parametrize(
    ("asset", "column"),
    [
        ("clean_listings", "neighborhood"),
        ("train_listings", "sample_weight"),
        ("test_listings", "batch"),
        ("market_batches", "square_foot"),
    ],
)
def test_listing_frames_show_their_pandera_columns_in_the_ui(bh_home, asset, column):
    # given the loaded graph, when the UI reads an asset's column schema metadata
    node = load().resolve_asset_graph().get(dg.AssetKey(asset))
    schema = node.metadata.get("dagster/column_schema")
    # then it lists the Pandera contract's columns
    assert schema is not None, f"{asset} has no dagster/column_schema"
    assert column in {c.name for c in schema.columns}, schema


SMOKE_TARGETS = ("BH_PRICING_SMOKE_URL", "BH_PRICING_SMOKE_LAMBDA", "BH_PRICING_SMOKE_API_KEY")


@pytest.mark.parametrize("name", DEPLOYMENTS)
@pytest.mark.parametrize(
    ("env", "kind", "description"),
    [
        ({}, LocalHandler, "Lambda handler in-process on /bundles"),
        (
            {"BH_PRICING_SMOKE_URL": "https://api.example.com/prod"},
            HttpEndpoint,
            "POST https://api.example.com/prod/predict",
        ),
        (
            {"BH_PRICING_SMOKE_LAMBDA": "bh-pricing-serving:live"},
            LambdaEndpoint,
            "Lambda bh-pricing-serving:live (invoke)",
        ),
    ],
    ids=["in-process", "url", "lambda"],
)
def test_smoke_target_follows_the_environment(bh_home, monkeypatch, name, env, kind, description):
    for variable in SMOKE_TARGETS:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    endpoint = build_resources(name)["serving_endpoint"].endpoint("/bundles")
    assert isinstance(endpoint, kind)
    assert endpoint.description == description


@pytest.mark.parametrize(
    "function", ["bh-pricing-serving", "arn:aws:lambda:sa-east-1:123456789012:function:f:live"]
)
def test_url_and_lambda_together_stop_the_location_from_loading(bh_home, monkeypatch, function):
    # given both smoke targets in the environment
    monkeypatch.setenv("BH_PRICING_SMOKE_URL", "https://api.example.com/prod")
    monkeypatch.setenv("BH_PRICING_SMOKE_LAMBDA", function)
    # when the code location loads, then it fails naming both variables
    with pytest.raises(ValueError, match=r"BH_PRICING_SMOKE_URL .* or BH_PRICING_SMOKE_LAMBDA"):
        load()


@pytest.mark.parametrize("function", ["bh pricing", "name:alias:extra", "https://x/predict"])
def test_a_malformed_function_name_stops_the_location_from_loading(bh_home, monkeypatch, function):
    monkeypatch.delenv("BH_PRICING_SMOKE_URL", raising=False)
    monkeypatch.setenv("BH_PRICING_SMOKE_LAMBDA", function)
    with pytest.raises(ValueError, match="is not a Lambda function name or ARN"):
        load()


def test_both_targets_in_run_config_fail_when_the_run_starts():
    # given the resource configured at launch (run config, not the environment)
    @dg.asset
    def target(serving_endpoint: ServingEndpoint) -> str:
        return serving_endpoint.endpoint("/bundles").description

    resources = {"serving_endpoint": ServingEndpoint.configure_at_launch()}
    config = {"url": "https://api.example.com/prod", "lambda_function": "bh-pricing-serving"}
    # when a run starts with both targets, then the resource refuses to initialise
    result = dg.materialize(
        [target],
        resources=resources,
        run_config={"resources": {"serving_endpoint": {"config": config}}},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert "not both" in str(failure.event_specific_data.error)
