"""deploy/dagster.yaml, deploy/dagster.ecs.yaml and deploy/workspace.yaml through Dagster's own
config validation, and their agreement with docker-compose.yml and the resources."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import process_workspace_config
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

from bh_pricing_tests.deploy.compose import REPO_ROOT, env_example, interpolate, load_compose

DEPLOY = REPO_ROOT / "deploy"
INSTANCES = ("dagster.yaml", "dagster.ecs.yaml")
CONFIGURABLE_SECTIONS = ("run_coordinator", "run_launcher", "compute_logs")
INSTANCE_ENV = {
    "DAGSTER_POSTGRES_HOST": "postgres",
    "DAGSTER_POSTGRES_PORT": "5432",
    "DAGSTER_POSTGRES_USER": "bh_pricing",
    "DAGSTER_POSTGRES_PASSWORD": "config-test-password",
    "DAGSTER_POSTGRES_DB": "dagster",
    "DAGSTER_MAX_CONCURRENT_RUNS": "2",
    "BH_PRICING_S3_BUCKET": "bh-pricing",
}


LOCAL_ONLY = {"BH_PRICING_HOME"}


def prod_env_vars() -> set[str]:
    """Names the resources read from the environment (``dg.EnvVar`` or ``os.environ``)."""
    source = (REPO_ROOT / "bh_pricing" / "resources" / "__init__.py").read_text()
    return set(re.findall(r"\"((?:BH_PRICING|MLFLOW)_[A-Z0-9_]+)\"", source)) - LOCAL_ONLY


def load_yaml(name: str) -> dict[str, Any]:
    """A file of deploy/ as YAML."""
    return yaml.safe_load((DEPLOY / name).read_text())


@pytest.fixture
def instance_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the instance files read, as compose would set them."""
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", INSTANCES)
@pytest.mark.usefixtures("instance_env")
def test_instance_file_passes_dagster_validation(name: str, tmp_path: Path) -> None:
    shutil.copy(DEPLOY / name, tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert "postgres" in config["storage"], f"{name}: storage is not PostgreSQL"


@pytest.mark.parametrize("name", INSTANCES)
@pytest.mark.usefixtures("instance_env")
def test_every_configured_class_accepts_its_config(name: str) -> None:
    config = load_yaml(name)
    sections = {s: config[s] for s in CONFIGURABLE_SECTIONS}
    sections["storage"] = {
        "module": "dagster_postgres",
        "class": "DagsterPostgresStorage",
        "config": config["storage"]["postgres"],
    }
    for section, spec in sections.items():
        # ConfigurableClassData maps public names (dagster.core.*) as the instance loader does.
        data = ConfigurableClassData(spec["module"], spec["class"], "{}")
        pytest.importorskip(data.module_name.split(".")[0], reason="pip install dagster-docker")
        klass = class_from_code_pointer(data.module_name, data.class_name)
        result = process_config(klass.config_type(), spec.get("config", {}))
        assert result.success, f"{name} {section}: {[e.message for e in result.errors or []]}"


@pytest.mark.parametrize("name", INSTANCES)
def test_instance_reads_its_database_from_the_environment(name: str) -> None:
    database = load_yaml(name)["storage"]["postgres"]["postgres_db"]
    for key in ("hostname", "port", "username", "password", "db_name"):
        assert isinstance(database[key], dict), f"{name}: {key} is hard-coded"
        assert "env" in database[key], f"{name}: {key} is not read from the environment"
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which the image does not ship.
    assert database["scheme"] == "postgresql+psycopg2"


@pytest.mark.parametrize("name", INSTANCES)
def test_runs_are_queued_with_concurrency_limits(name: str) -> None:
    coordinator = load_yaml(name)["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"]
    keys = {limit["key"] for limit in coordinator["config"]["tag_concurrency_limits"]}
    assert "dagster/sensor_name" in keys, "sensor-launched runs are not limited"


@pytest.mark.parametrize("name", INSTANCES)
def test_run_containers_receive_what_production_resources_read(name: str) -> None:
    forwarded = set(load_yaml(name)["run_launcher"]["config"]["env_vars"])
    missing = prod_env_vars() - forwarded
    assert not missing, f"{name}: runs would start without {sorted(missing)}"


def test_ecs_scale_out_uses_the_ecs_launcher_and_s3_logs() -> None:
    config = load_yaml("dagster.ecs.yaml")
    assert config["run_launcher"]["class"] == "EcsRunLauncher"
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"


def test_docker_launcher_matches_the_compose_network_volumes_and_env() -> None:
    launcher = load_yaml("dagster.yaml")["run_launcher"]["config"]
    compose = interpolate(
        load_compose(),
        {
            **env_example(),
            "POSTGRES_PASSWORD": "x",
            "MINIO_ROOT_USER": "y",
            "MINIO_ROOT_PASSWORD": "z",
        },
    )
    assert launcher["network"] == compose["networks"]["default"]["name"]
    logs_volume = compose["volumes"]["dagster-logs"]["name"]
    assert any(v.startswith(f"{logs_volume}:") for v in launcher["container_kwargs"]["volumes"])
    daemon_env = compose["services"]["dagster-daemon"]["environment"]
    missing = set(launcher["env_vars"]) - set(daemon_env)
    assert not missing, f"the daemon cannot forward {sorted(missing)}: not in its environment"


@pytest.mark.parametrize("service", ["dagster-code", "dagster-daemon"])
def test_compose_gives_dagster_every_production_variable(service: str) -> None:
    env = load_compose()["services"][service]["environment"]
    missing = (prod_env_vars() | set(INSTANCE_ENV)) - set(env)
    assert not missing, f"{service} lacks {sorted(missing)}"


def test_workspace_passes_dagster_validation_and_points_at_the_code_locations() -> None:
    workspace = load_yaml("workspace.yaml")
    result = process_workspace_config(workspace)
    assert result.success, [e.message for e in result.errors or []]
    services = load_compose()["services"]
    served = {}
    for entry in workspace["load_from"]:
        server = entry["grpc_server"]
        assert server["host"] in services, f"no compose service {server['host']}"
        command = services[server["host"]]["command"]
        assert command[command.index("-p") + 1] == str(server["port"])
        assert command[command.index("--location-name") + 1] == server["location_name"]
        served[server["location_name"]] = command[command.index("-m") + 1]
    local = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    modules = {
        e["python_module"]["location_name"]: e["python_module"]["module_name"] for e in local
    }
    assert served == modules, "deploy/workspace.yaml and the local workspace.yaml disagree"
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    dagster = pyproject["tool"]["dagster"]
    assert served[dagster["code_location_name"]] == dagster["module_name"]
