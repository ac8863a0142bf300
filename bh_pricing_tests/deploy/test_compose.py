"""docker-compose.yml and .env.example, checked without a Docker engine."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest

from bh_pricing_tests.deploy.compose import (
    COMPOSE_FILE,
    REPO_ROOT,
    InterpolationError,
    env_example,
    interpolate,
    load_compose,
    required_variables,
    variables,
)

SERVICES = {
    "postgres",
    "minio",
    "create-bucket",
    "dagster-migrate",
    "mlflow",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
}
ONE_SHOT = {"create-bucket", "dagster-migrate"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE", re.IGNORECASE)
REQUIRED_SECRET = re.compile(r"^\$\{[A-Z_]+:\?[^}]+\}$")
# Values standing in for the secrets .env.example leaves empty.
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "MINIO_ROOT_USER": "compose-test-user",
    "MINIO_ROOT_PASSWORD": "compose-test-secret",
}


def compose_spec_schema() -> dict[str, Any]:
    """The compose-spec JSON schema as vendored by check-jsonschema (Apache-2.0)."""
    pytest.importorskip("check_jsonschema", reason="pip install check-jsonschema")
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml with .env.example's values and test secrets filled in."""
    return interpolate(load_compose(), {**env_example(), **TEST_SECRETS})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services section."""
    return compose["services"]


def test_compose_file_matches_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "docker-compose.yml breaks the compose spec:\n" + "\n".join(errors)


def test_every_part_of_the_topology_is_a_service(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES, (
        f"expected services {sorted(SERVICES)}, got {sorted(services)}"
    )


@pytest.mark.parametrize("name", sorted(SERVICES - ONE_SHOT))
def test_long_running_services_have_a_health_check(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    check = services[name].get("healthcheck", {})
    assert check.get("test"), f"{name} has no health check"
    assert not check.get("disable"), f"{name} disables its health check"


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_one_shot_services_do_not_restart(services: dict[str, dict[str, Any]], name: str) -> None:
    assert services[name].get("restart") == "no"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health_or_completion(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a list"
    for dependency, spec in depends_on.items():
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert spec.get("condition") == expected, f"{name} -> {dependency}: {spec}"


def test_services_that_need_others_wait_for_them(services: dict[str, dict[str, Any]]) -> None:
    needs = {
        "mlflow": {"postgres", "create-bucket"},
        "dagster-webserver": {"postgres", "dagster-code"},
        "dagster-daemon": {"postgres", "mlflow", "dagster-code"},
        "dagster-code": {"create-bucket", "dagster-migrate"},
        "dagster-migrate": {"postgres"},
        "create-bucket": {"minio"},
    }
    for name, expected in needs.items():
        missing = expected - set(services[name].get("depends_on", {}))
        assert not missing, f"{name} starts without waiting for {sorted(missing)}"


def test_published_ports_bind_to_localhost_by_default(services: dict[str, dict[str, Any]]) -> None:
    published = {
        name: port for name, service in services.items() for port in service.get("ports", [])
    }
    assert published, "no service publishes a port"
    for name, port in published.items():
        text = port if isinstance(port, str) else port.get("host_ip", "")
        assert str(text).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"


def test_raw_ports_use_the_bind_address_variable() -> None:
    raw = load_compose()["services"]
    for name, service in raw.items():
        for port in service.get("ports", []):
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes", {}))
    assert {"postgres-data", "minio-data", "dagster-logs"} <= declared
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_secrets_are_only_taken_from_the_environment() -> None:
    raw = load_compose()
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_SECRET.match(str(value)), (
                    f"{name}: {key} must be ${{VAR:?message}} (no default), got {value!r}"
                )
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an AWS access key id is hard-coded"
    assert not re.search(r"(?i)(password|secret)\s*[:=]\s*['\"]?[A-Za-z0-9]{6,}", text), (
        "a literal password or secret is hard-coded"
    )


def test_compose_refuses_to_start_without_the_secrets() -> None:
    env = env_example()
    for secret in TEST_SECRETS:
        with pytest.raises(InterpolationError, match=secret):
            interpolate(load_compose(), {**env, **TEST_SECRETS, secret: ""})


def test_every_variable_is_documented_in_env_example() -> None:
    used = variables(COMPOSE_FILE.read_text())
    documented = set(env_example())
    assert not used - documented, f"undocumented in .env.example: {sorted(used - documented)}"
    assert not documented - used, f".env.example documents unused: {sorted(documented - used)}"


def test_env_example_leaves_every_secret_empty() -> None:
    env = env_example()
    required = required_variables(COMPOSE_FILE.read_text())
    assert set(TEST_SECRETS) <= required, (
        f"secrets without ${{VAR:?}}: {set(TEST_SECRETS) - required}"
    )
    for name in required:
        assert env.get(name) == "", f".env.example must not ship a value for {name}"


def test_every_built_file_and_mounted_path_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build:
            dockerfile = REPO_ROOT / build.get("context", ".") / build["dockerfile"]
            assert dockerfile.is_file(), f"{name} builds from missing {dockerfile}"
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                path = REPO_ROOT / volume.split(":")[0]
                assert path.exists(), f"{name} mounts missing {path}"


def test_dagster_services_share_one_image_and_environment(
    services: dict[str, dict[str, Any]],
) -> None:
    names = ("dagster-code", "dagster-webserver", "dagster-daemon")
    dagster = [services[n] for n in names]
    assert len({s["image"] for s in dagster}) == 1, "code locations, webserver, daemon differ"
    base = services["dagster-webserver"]["environment"]
    for service in dagster:
        assert service["environment"].items() >= base.items()
        assert service["environment"]["BH_PRICING_ENV"] == "prod"


def test_the_code_location_tells_run_containers_its_image(
    services: dict[str, dict[str, Any]],
) -> None:
    code = services["dagster-code"]
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == code["image"]


def test_mlflow_server_uses_postgres_and_s3_artifacts(services: dict[str, dict[str, Any]]) -> None:
    command = " ".join(services["mlflow"]["command"])
    assert '--backend-store-uri "postgresql+psycopg2://' in command
    assert "@postgres:5432/" in command
    assert '--artifacts-destination "s3://' in command
    assert "--serve-artifacts" in command
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_bucket_creation_uses_the_configured_bucket(services: dict[str, dict[str, Any]]) -> None:
    bucket = services["create-bucket"]["environment"]["BH_PRICING_S3_BUCKET"]
    assert bucket == services["dagster-code"]["environment"]["BH_PRICING_S3_BUCKET"]
    assert "mc mb --ignore-existing" in " ".join(services["create-bucket"]["command"])
