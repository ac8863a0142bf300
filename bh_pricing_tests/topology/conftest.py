"""Fixtures for the topology tests: the running stack and its first full materialization, shared
by every test of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bh_pricing.assets.training.candidates import CANDIDATE_KEYS
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.scenario import production_assets
from bh_pricing_tests.topology.stack import Topology, running_topology

TOPOLOGY = pytest.StashKey[Topology]()
FULL_RUN_TIMEOUT = 600.0
CANDIDATES = {key.to_user_string() for key in CANDIDATE_KEYS}
# The MLflow server's answer when a logged model is registered without its model_id.


@pytest.fixture(scope="session")
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    """Postgres databases, S3, MLflow and Dagster on loopback; stopped and dropped afterwards."""
    with running_topology(tmp_path_factory.mktemp("topology")) as stack:
        request.config.stash[TOPOLOGY] = stack
        yield stack
        del request.config.stash[TOPOLOGY]


@pytest.fixture(scope="session")
def materialized(topology: Topology) -> Run:
    """The production line materialized once, launched through the webserver's GraphQL API."""
    assets = production_assets(topology)
    # Three folds instead of five: the same code paths in less time.
    config = {"ops": {key: {"config": {"folds": 3}} for key in assets if key in CANDIDATES}}
    run_id = topology.dagster.launch(assets, config)
    run = topology.dagster.wait_for_run(run_id, FULL_RUN_TIMEOUT)
    if run.status != "SUCCESS":
        messages = "\n".join(topology.dagster.failure_messages(run_id))
        pytest.fail(f"full materialization {run_id} ended {run.status}:\n{messages}")
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the end of every service's log to a failed topology test."""
    outcome = yield
    report = outcome.get_result()
    stack = item.config.stash.get(TOPOLOGY, None)
    if report.failed and stack is not None:
        for service in stack.services.values():
            report.sections.append((f"log of {service.name}", service.log_tail()))
