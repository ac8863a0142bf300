"""The production topology on loopback: Postgres databases, S3 (moto behind a gate), the MLflow
tracking server, and Dagster's code server, webserver and daemon in ``BH_PRICING_ENV=prod``.

The Dagster instance is deploy/dagster.yaml itself, with only the run launcher (processes instead
of containers) and the compute log folder swapped, so the test exercises the deployed storage and
queue configuration. The Dagster processes themselves are started as in dagster_services.py.
"""

from __future__ import annotations

import io
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import yaml
from psycopg2 import sql

from bh_pricing.core.sample import generate_raw_listings
from bh_pricing_tests.topology.dagster_services import (
    CODE_SERVERS,
    DAEMON,
    REPO_ROOT,
    START_TIMEOUT,
    WEBSERVER,
    DagsterStack,
    clean_env,
    dagster_commands,
    write_workspace,
)
from bh_pricing_tests.topology.graphql import Dagster
from bh_pricing_tests.topology.processes import free_port, http_ok
from bh_pricing_tests.topology.s3_gate import S3Gate

DEPLOY_INSTANCE = REPO_ROOT / "deploy" / "dagster.yaml"
BUCKET = "bh-pricing-topology"
RAW_ROWS = 1500
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Postgres:
    """The PostgreSQL server the databases are created on (trust auth)."""

    host: str = os.environ.get("PGHOST", "127.0.0.1")
    port: int = int(os.environ.get("PGPORT", "5432"))
    user: str = os.environ.get("PGUSER", "postgres")

    def url(self, db: str) -> str:
        """SQLAlchemy URL of ``db``."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{db}"

    def _execute(self, statement: sql.Composable) -> None:
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    def create(self, db: str) -> None:
        """Create an empty database."""
        self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))

    def drop(self, db: str) -> None:
        """Drop a database, disconnecting whoever is still connected."""
        self._execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


@dataclass(kw_only=True)
class Topology(DagsterStack):
    """Handles on every running part, for the tests to use and to break."""

    gate: S3Gate
    mlflow_url: str

    def uri(self, *parts: str) -> str:
        """An s3:// URI in the test bucket."""
        return "/".join([f"s3://{BUCKET}", *parts])

    def s3(self) -> Any:
        """A boto3 S3 client through the gate."""
        return boto3.client("s3", endpoint_url=self.gate.url, **_boto_credentials())

    def wait_ready(self, name: str) -> None:
        """Block until the service answers as it should when up."""
        service = self.services[name]
        if name == "moto":
            url = f"http://127.0.0.1:{service.port}/moto-api/"
            service.wait_until(lambda: http_ok(url), 60, "S3 API")
        elif name == "mlflow":
            url = f"{self.mlflow_url}/health"
            service.wait_until(lambda: http_ok(url), START_TIMEOUT, "health")
        else:
            super().wait_ready(name)


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_TEST_ENV["AWS_DEFAULT_REGION"],
    }


def write_instance(home: Path, postgres: Postgres, db: str) -> dict[str, str]:
    """DAGSTER_HOME/dagster.yaml from deploy/dagster.yaml; the variables it reads."""
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text())
    config["run_launcher"] = {"module": "dagster.core.launcher", "class": "DefaultRunLauncher"}
    config["compute_logs"]["config"]["base_dir"] = str(home / "logs")
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_HOST": postgres.host,
        "DAGSTER_POSTGRES_PORT": str(postgres.port),
        "DAGSTER_POSTGRES_USER": postgres.user,
        # Trust authentication ignores it, but the instance config requires one.
        "DAGSTER_POSTGRES_PASSWORD": "unused-under-trust-auth",
        "DAGSTER_POSTGRES_DB": db,
        "DAGSTER_MAX_CONCURRENT_RUNS": "2",
    }


def upload_raw_listings(topology: Topology, rows: int = RAW_ROWS) -> str:
    """Put a seeded sample of raw listings where BH_PRICING_RAW_URI points."""
    buffer = io.StringIO()
    generate_raw_listings(rows, seed=11).to_csv(buffer, index=False)
    topology.s3().put_object(Bucket=BUCKET, Key="raw/listings.csv", Body=buffer.getvalue())
    return topology.uri("raw", "listings.csv")


@contextmanager
def running_topology(root: Path) -> Iterator[Topology]:
    """Start everything in dependency order; stop everything and drop the databases on exit."""
    postgres = Postgres()
    run_id = uuid.uuid4().hex[:10]
    dagster_db, mlflow_db = f"bh_topology_{run_id}_dagster", f"bh_topology_{run_id}_mlflow"
    ports = {name: free_port() for name in ("moto", "mlflow", *CODE_SERVERS, WEBSERVER)}

    with ExitStack() as cleanup:
        for db in (dagster_db, mlflow_db):
            postgres.create(db)
            cleanup.callback(postgres.drop, db)

        gate = S3Gate(ports["moto"])
        mlflow_url = f"http://127.0.0.1:{ports['mlflow']}"
        topology = Topology(
            root=root,
            dagster=Dagster(ports[WEBSERVER]),
            env={**clean_env(), **AWS_TEST_ENV},
            gate=gate,
            mlflow_url=mlflow_url,
        )
        moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports["moto"])]
        topology.start_waves([["moto"]], {"moto": moto}, ports, cleanup)
        gate.open()
        cleanup.callback(gate.cut)
        topology.s3().create_bucket(Bucket=BUCKET)

        aws = {"AWS_ENDPOINT_URL": gate.url, "MLFLOW_S3_ENDPOINT_URL": gate.url}
        prod = {
            "BH_PRICING_ENV": "prod",
            "BH_PRICING_S3_BUCKET": BUCKET,
            "BH_PRICING_RAW_URI": topology.uri("raw", "listings.csv"),
            "BH_PRICING_LANDING_URI": topology.uri("landing"),
            "BH_PRICING_ARTIFACTS_URI": topology.uri("artifacts"),
            "BH_PRICING_PREDICTION_LOG_URI": topology.uri("prediction-log"),
            "BH_PRICING_MLFLOW_UI_URL": mlflow_url,
            "MLFLOW_TRACKING_URI": mlflow_url,
            # Fail within seconds when the tracking server is gone, not after minutes of retries.
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
        }
        instance = write_instance(root / "dagster_home", postgres, dagster_db)
        topology.env.update({**aws, **prod, **instance})
        # As the compose file's dagster-migrate: the tables exist before any server opens them.
        topology.migrate_instance()
        commands = {
            "mlflow": [
                *(sys.executable, "-m", "mlflow", "server"),
                *("--host", "127.0.0.1", "--port", str(ports["mlflow"]), "--workers", "1"),
                *("--backend-store-uri", postgres.url(mlflow_db)),
                *("--artifacts-destination", topology.uri("mlflow"), "--serve-artifacts"),
            ],
            **dagster_commands(ports, write_workspace(root / "workspace.yaml", ports)),
        }
        # MLflow and the code servers start together; the webserver and daemon need the servers.
        topology.start_waves(
            [("mlflow", *CODE_SERVERS), (WEBSERVER, DAEMON)], commands, ports, cleanup
        )
        upload_raw_listings(topology)
        yield topology
