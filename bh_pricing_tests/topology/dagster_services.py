"""Dagster's own processes on loopback, the way ``dagster dev`` runs them: the gRPC code server
of the code location, a workspace file pointing at it, then the webserver and the daemon.

Both stacks of the topology tests build on this: the production one (stack.py) adds Postgres, S3
and the MLflow server around it, the local one (local_stack.py) nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bh_pricing_tests.topology.graphql import Dagster
from bh_pricing_tests.topology.processes import Service, ServiceError, http_ok, port_open

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240.0
# Service name -> (module, location name) of each gRPC code server: one location.
CODE_SERVERS = {"grpc": ("bh_pricing.definitions", "bh_pricing")}
WEBSERVER, DAEMON = "webserver", "daemon"
# Variables of the developer's shell that would point a process somewhere else.
_INHERITED_PREFIXES = ("AWS_", "BH_PRICING_", "MLFLOW_", "DAGSTER_")


def executable(name: str) -> str:
    """A console script of this interpreter's environment (else from PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is neither beside {sys.executable} nor on PATH")
    return found


def clean_env() -> dict[str, str]:
    """This process's environment without the variables that choose where data lives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    return {**env, "PYTHONUNBUFFERED": "1"}


def write_workspace(path: Path, ports: Mapping[str, int]) -> Path:
    """A workspace file naming the gRPC code servers listening on ``ports``."""
    servers = [
        {"grpc_server": {"host": "127.0.0.1", "port": ports[name], "location_name": location}}
        for name, (_, location) in CODE_SERVERS.items()
    ]
    path.write_text(yaml.safe_dump({"load_from": servers}))
    return path


def dagster_commands(ports: Mapping[str, int], workspace: Path) -> dict[str, list[str]]:
    """Command lines of the code servers, the webserver and the daemon."""
    dagster = executable("dagster")
    return {
        **{
            name: [
                *(dagster, "api", "grpc", "-m", module, "--location-name", location),
                *("-h", "127.0.0.1", "-p", str(ports[name])),
            ]
            for name, (module, location) in CODE_SERVERS.items()
        },
        WEBSERVER: [
            executable("dagster-webserver"),
            *("-h", "127.0.0.1", "-p", str(ports[WEBSERVER]), "-w", str(workspace)),
        ],
        DAEMON: [executable("dagster-daemon"), "run", "-w", str(workspace)],
    }


DAEMON_HEALTH = (
    "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
)


def daemons_healthy(dagster: Dagster) -> bool:
    """True when every required daemon has sent a recent heartbeat."""
    answer = dagster.query(DAEMON_HEALTH)
    statuses = answer["instance"]["daemonHealth"]["allDaemonStatuses"]
    return all(s["healthy"] for s in statuses if s["required"])


@dataclass(kw_only=True)
class DagsterStack:
    """Services by name, their shared environment and the webserver's API."""

    root: Path
    dagster: Dagster
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        """Where every service writes its log."""
        return self.root / "logs"

    def start_waves(
        self,
        waves: Sequence[Sequence[str]],
        commands: Mapping[str, Sequence[str]],
        ports: Mapping[str, int],
        cleanup: ExitStack,
    ) -> None:
        """Start the services of each wave together, and wait for all before the next wave;
        ``cleanup`` stops them."""
        self.logs.mkdir(parents=True, exist_ok=True)
        for wave in waves:
            for name in wave:
                service = Service(
                    name,
                    commands[name],
                    self.env,
                    self.logs,
                    cwd=REPO_ROOT,
                    port=ports.get(name, 0),
                )
                self.services[name] = service
                cleanup.callback(service.stop)
                service.start()
            for name in wave:
                self.wait_ready(name)

    def migrate_instance(self) -> None:
        """Create or upgrade the instance's storage (``dagster instance migrate``)."""
        done = subprocess.run(
            [executable("dagster"), "instance", "migrate"],
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if done.returncode != 0:
            raise ServiceError(f"dagster instance migrate failed:\n{done.stderr[-4000:]}")

    def wait_ready(self, name: str) -> None:
        """Block until the service answers as it should when up."""
        service = self.services[name]
        if name in CODE_SERVERS:
            service.wait_until(lambda: port_open(service.port), START_TIMEOUT, "gRPC port")
        elif name == WEBSERVER:
            url = f"http://127.0.0.1:{service.port}/server_info"
            service.wait_until(lambda: http_ok(url), START_TIMEOUT, "server_info")
            service.wait_until(self.dagster.locations_loaded, START_TIMEOUT, "code locations")
        elif name == DAEMON:
            service.wait_until(lambda: daemons_healthy(self.dagster), START_TIMEOUT, "heartbeat")
        else:
            raise KeyError(f"no readiness test for {name}")

    def restart(self, name: str, crash: bool = False, env: Mapping[str, str] | None = None) -> None:
        """Stop (SIGKILL when ``crash``) and start a service again, with ``env`` added to its
        environment, waiting until it is ready."""
        service = self.services[name]
        if crash:
            service.kill()
        else:
            service.stop()
        service.env.update(env or {})
        service.start()
        self.wait_ready(name)
        webserver = self.services.get(WEBSERVER)
        if name in CODE_SERVERS and webserver is not None and webserver.running:
            # The webserver would notice the new server by itself, but only seconds later.
            location = CODE_SERVERS[name][1]
            what = f"{location} reloaded by the webserver"
            service.wait_until(lambda: self.dagster.reload_location(location), START_TIMEOUT, what)
