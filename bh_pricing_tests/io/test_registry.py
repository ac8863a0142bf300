"""The registry helpers and their command line on a real SQLite MLflow store: dangling aliases,
a race on the first registration, an unreachable MLflow server."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing.io import registry

NAME = REGISTERED_MODEL_NAME


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store, migrated once for the module."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments(max_results=1)
    return path


@pytest.fixture
def store(empty_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking and registry store, current for this process."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(empty_store, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def register_run(client: MlflowClient, tags: dict[str, str] | None = None) -> str:
    """Register a new version whose source is a fresh run; its number."""
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    return str(registry.register(client, f"runs:/{run.info.run_id}/model", tags or {}).version)


def remove_version(uri: str, version: str, how: str) -> None:
    """Make a version disappear behind MLflow's back (its aliases stay)."""
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        if how == "row deleted":
            db.execute("DELETE FROM model_versions WHERE name = ? AND version = ?", (NAME, version))
        else:
            db.execute(
                "UPDATE model_versions SET current_stage = 'Deleted_Internal' "
                "WHERE name = ? AND version = ?",
                (NAME, version),
            )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bh_pricing.io.registry", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("how", ["row deleted", "soft deleted"])
@pytest.mark.parametrize("alias", [CHAMPION_ALIAS, CHALLENGER_ALIAS])
def test_an_alias_to_a_missing_version_is_an_error_naming_both(store, alias, how) -> None:
    # given versions 1..3 and the alias on version 2, which then disappears
    client = MlflowClient()
    versions = [register_run(client) for _ in range(3)]
    client.set_registered_model_alias(NAME, alias, versions[1])
    remove_version(store, versions[1], how)
    # when the alias is looked up, then it is an error, not "no such alias"
    with pytest.raises(registry.DanglingAliasError, match=f"'{alias}'.*version {versions[1]}"):
        registry.version_by_alias(client, alias)


def test_show_exits_1_on_a_dangling_alias_and_still_shows_the_other(store) -> None:
    client = MlflowClient()
    first, second = register_run(client), register_run(client)
    client.set_registered_model_alias(NAME, CHAMPION_ALIAS, second)
    client.set_registered_model_alias(NAME, CHALLENGER_ALIAS, first)
    remove_version(store, second, "row deleted")
    shown = cli("show")
    assert shown.returncode == 1, shown
    assert f"alias 'champion' of registered model 'bh-pricing' points to version {second}" in (
        shown.stderr
    ), shown.stderr
    assert "Traceback" not in shown.stderr, "a message, not a stack trace"
    assert f"challenger: version {first}" in shown.stdout, shown.stdout
    assert "champion: -" not in shown.stdout, "a dangling champion is not 'no champion'"


def test_promote_repairs_a_dangling_champion(store) -> None:
    client = MlflowClient()
    first, second = register_run(client), register_run(client)
    client.set_registered_model_alias(NAME, CHAMPION_ALIAS, second)
    remove_version(store, second, "soft deleted")
    assert registry.main(["promote", first]) == 0, "a person's choice needs no comparison"
    assert str(registry.version_by_alias(client, CHAMPION_ALIAS).version) == first


@pytest.mark.parametrize("version", ["7", "0", "abc"])
def test_promote_of_a_missing_version_exits_1_and_changes_nothing(store, version, capsys) -> None:
    client = MlflowClient()
    champion = register_run(client)
    client.set_registered_model_alias(NAME, CHAMPION_ALIAS, champion)
    assert registry.main(["promote", version]) == 1
    assert version in capsys.readouterr().err
    assert str(registry.version_by_alias(client, CHAMPION_ALIAS).version) == champion, "same"


def test_no_model_or_no_alias_yet_is_no_champion(store, capsys) -> None:
    client = MlflowClient()
    assert registry.version_by_alias(client, CHAMPION_ALIAS) is None, "no model yet"
    register_run(client)
    assert registry.version_by_alias(client, CHAMPION_ALIAS) is None, "no alias yet"
    assert registry.main(["show"]) == 0
    assert capsys.readouterr().out == "champion: -\nchallenger: -\n"


def test_show_reads_the_registry_the_pipeline_writes_to_by_default(
    bh_home, monkeypatch, tmp_path, capsys
) -> None:
    # given a version registered as champion in the local deployment's default store, and a
    # working directory where MLflow's own default (./mlflow.db) would be an empty store
    uri = f"sqlite:///{bh_home / 'mlflow' / 'mlflow.db'}"
    (bh_home / "mlflow").mkdir(parents=True)
    client = MlflowClient(uri, uri)
    version = register_run(client)
    client.set_registered_model_alias(NAME, CHAMPION_ALIAS, version)
    monkeypatch.chdir(tmp_path)
    # when `show` runs with neither --tracking-uri nor MLFLOW_TRACKING_URI
    assert registry.main(["show"]) == 0
    # then it shows that champion, and created no store of its own
    assert capsys.readouterr().out.startswith(f"champion: version {version} ("), "default store"
    assert not (tmp_path / "mlflow.db").exists()


def test_a_deployment_missing_its_mlflow_settings_exits_1_naming_them(
    bh_home, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("BH_PRICING_ENV", "prod")
    monkeypatch.delenv("BH_PRICING_MLFLOW_UI_URL", raising=False)
    assert registry.main(["show"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the deployment's MLflow settings"), err
    assert "MLFLOW_TRACKING_URI" in err
    assert "Traceback" not in err


def test_a_model_created_by_another_process_meanwhile_is_registered_into(store) -> None:
    # given a client that finds no model, while another process creates it just then
    client, other = MlflowClient(), MlflowClient()
    looked_up = client.get_registered_model

    def raced(name: str):
        other.create_registered_model(name)
        client.get_registered_model = looked_up
        raise MlflowException(
            f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST
        )

    client.get_registered_model = raced
    # when it registers its version, then the creation race is not an error
    assert register_run(client) == "1"
    assert register_run(other) == "2"


def _register_in_process(uri: str, barrier, results) -> None:
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    barrier.wait()
    results.put(str(registry.register(client, f"runs:/{run.info.run_id}/model", {}).version))


def test_two_processes_registering_the_first_version_at_once_both_succeed(store) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_register_in_process, args=(store, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [worker.exitcode for worker in workers] == [0, 0], "both registrations succeed"
    assert sorted(results.get(timeout=5) for _ in workers) == ["1", "2"]


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> str:
    """An MLflow server address where nothing listens; no retries."""
    uri = "http://127.0.0.1:9"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def test_an_unreachable_mlflow_is_a_failure_not_no_champion(outage: str) -> None:
    client = MlflowClient()
    with pytest.raises(MlflowException, match=re.escape(outage)):
        registry.version_by_alias(client, CHAMPION_ALIAS)
    with pytest.raises(MlflowException, match=re.escape(outage)):
        registry.register(client, "runs:/abc/model", {})


@pytest.mark.parametrize("args", [["show"], ["promote", "3"]])
def test_the_cli_exits_1_naming_the_unreachable_server(outage, args) -> None:
    result = cli(*args)
    assert result.returncode == 1, result
    assert f"MLflow at {outage} failed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
