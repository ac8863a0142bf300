"""The local deployment on loopback, as ``make dev`` runs it: ``BH_PRICING_ENV`` unset, the
repository's dagster.yaml (SQLite storage, run queue, sensor threads) in a temporary
``DAGSTER_HOME``, and MLflow, asset storage and the landing folder under a temporary
``BH_PRICING_HOME``. No service besides Dagster's own code servers, webserver and daemon.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io.landing import batch_key, content_sha256
from bh_pricing_tests.topology.dagster_services import (
    CODE_SERVERS,
    DAEMON,
    REPO_ROOT,
    WEBSERVER,
    DagsterStack,
    clean_env,
    dagster_commands,
    write_workspace,
)
from bh_pricing_tests.topology.graphql import Dagster
from bh_pricing_tests.topology.processes import free_port

LOCAL_INSTANCE = REPO_ROOT / "dagster.yaml"
RAW_ROWS = 1500


@dataclass(kw_only=True)
class LocalStack(DagsterStack):
    """The running local deployment and the folders it keeps its state in."""

    home: Path  # BH_PRICING_HOME

    @property
    def landing(self) -> Path:
        """The default landing folder, ``$BH_PRICING_HOME/landing``."""
        return self.home / "landing"

    def mlflow(self) -> MlflowClient:
        """A client of the default MLflow store, ``$BH_PRICING_HOME/mlflow/mlflow.db``."""
        uri = f"sqlite:///{self.home / 'mlflow' / 'mlflow.db'}"
        return MlflowClient(uri, uri)

    def land(self, name: str, content: str) -> str:
        """Drop a CSV into the landing folder in one rename (the hidden partial file is never a
        batch); the partition key the landing sensor gives it."""
        self.landing.mkdir(parents=True, exist_ok=True)
        partial = self.landing / f".{name}.partial"
        partial.write_text(content)
        partial.rename(self.landing / name)
        return batch_key(name, content_sha256(content.encode()))


@contextmanager
def running_local_stack(
    root: Path, env: Mapping[str, str] | None = None, raw_rows: int = RAW_ROWS
) -> Iterator[LocalStack]:
    """Start the code servers, then the webserver and the daemon; stop them all on exit.

    The raw listings are ``raw_rows`` generated ones; ``env`` adds variables (a promotion policy,
    a cooldown, another ``BH_PRICING_RAW_URI``) to every process.
    """
    ports = {name: free_port() for name in (*CODE_SERVERS, WEBSERVER)}
    dagster_home, home = root / "dagster_home", root / "bh_pricing_home"
    dagster_home.mkdir(parents=True)
    shutil.copy(LOCAL_INSTANCE, dagster_home / "dagster.yaml")
    raw = root / "raw_listings.csv"
    generate_raw_listings(raw_rows, seed=11).to_csv(raw, index=False)
    stack = LocalStack(
        root=root,
        home=home,
        dagster=Dagster(ports[WEBSERVER]),
        env={
            **clean_env(),
            "DAGSTER_HOME": str(dagster_home),
            "BH_PRICING_HOME": str(home),
            "BH_PRICING_RAW_URI": str(raw),
            **(env or {}),
        },
    )
    # Create the SQLite storages before any process opens them, as `dagster dev` does: two code
    # servers starting together on a fresh DAGSTER_HOME race to create the same tables.
    stack.migrate_instance()
    commands = dagster_commands(ports, write_workspace(root / "workspace.yaml", ports))
    with ExitStack() as cleanup:
        stack.start_waves([tuple(CODE_SERVERS), (WEBSERVER, DAEMON)], commands, ports, cleanup)
        yield stack
