"""Fixtures for the topology tests: the running production stack and its first full
materialization, shared by every test of the session; the local stack, one per module; the logs
of every running stack on a failed test, and what the tests measured in the summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bh_pricing_tests.topology.dagster_services import DagsterStack
from bh_pricing_tests.topology.graphql import Run
from bh_pricing_tests.topology.local_stack import LocalStack, running_local_stack
from bh_pricing_tests.topology.scenario import materialize_production_line
from bh_pricing_tests.topology.stack import Topology, running_topology

RUNNING_STACKS = pytest.StashKey[list[DagsterStack]]()


@contextmanager
def logs_on_failure(config: pytest.Config, stack: DagsterStack) -> Iterator[None]:
    """Attach the stack's service logs to the tests that fail while it runs."""
    config.stash.setdefault(RUNNING_STACKS, []).append(stack)
    try:
        yield
    finally:
        config.stash[RUNNING_STACKS].remove(stack)


@pytest.fixture(scope="session")
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    """Postgres databases, S3, MLflow and Dagster on loopback; stopped and dropped afterwards."""
    with (
        running_topology(tmp_path_factory.mktemp("topology")) as stack,
        logs_on_failure(request.config, stack),
    ):
        yield stack


@pytest.fixture(scope="session")
def materialized(topology: Topology) -> Run:
    """The production line materialized once, launched through the webserver's GraphQL API."""
    return materialize_production_line(topology)


@pytest.fixture(scope="module")
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """Code servers, webserver and daemon on the embedded local defaults, in temporary homes."""
    with (
        # No cooldown: the tests land batches one after the other.
        running_local_stack(
            tmp_path_factory.mktemp("local_stack"),
            {"BH_PRICING_RETRAIN_COOLDOWN_SECONDS": "0"},
        ) as stack,
        logs_on_failure(request.config, stack),
    ):
        yield stack


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the end of every running service's log to a failed topology test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for stack in item.config.stash.get(RUNNING_STACKS, []):
        for service in stack.services.values():
            report.sections.append(
                (f"log of {service.name} ({stack.root.name})", service.log_tail())
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show what the tests measured (``record_property``), passed or failed."""
    reports = [
        report
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call" and report.user_properties
    ]
    if not reports:
        return
    terminalreporter.section("measurements")
    for report in reports:
        values = ", ".join(f"{name}={value}" for name, value in report.user_properties)
        terminalreporter.write_line(f"{report.nodeid}: {values}")
