"""The drift loop as the webserver shows it, stage by stage: a landed batch becomes a partition,
``landing_sensor``'s run reports drift (``no_drift`` fails), ``retraining_sensor`` launches a
retraining run; and the time from the drift result to that run's start. The integration test
and benchmarks/retraining_latency.py follow a batch with ``follow_to_retraining``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bh_pricing_tests.topology.graphql import (
    FINISHED,
    CheckEvaluation,
    Dagster,
    Materialization,
    Run,
)
from bh_pricing_tests.topology.scenario import (
    CHECK_JOB,
    DRIFT_REPORT,
    MARKET_BATCHES,
    NO_DRIFT,
    RETRAIN_JOB,
    partition_filter,
    retraining_filter,
)

T = TypeVar("T")
LANDING_SENSOR, RETRAINING_SENSOR = "landing_sensor", "retraining_sensor"


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 2) -> T:
    """Poll ``probe`` until it returns something; that thing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(interval)
    raise TimeoutError(f"no {what} within {timeout:.0f}s")


def wait_for_partition(dagster: Dagster, batch: str, timeout: float) -> None:
    """Poll until ``batch`` is a partition of ``market_batches``."""
    what = f"partition {batch} of {MARKET_BATCHES}"
    wait_for(lambda: batch in dagster.partition_keys(MARKET_BATCHES), timeout, what)


def wait_for_check_run(dagster: Dagster, batch: str, timeout: float) -> Run:
    """Poll until the drift check run of ``batch`` has finished; that run."""
    (run,) = dagster.wait_for_runs(partition_filter(CHECK_JOB, batch), 1, timeout, finished=True)
    return run


@dataclass(frozen=True)
class DriftResult:
    """What the check run of a batch recorded: the report and its ``no_drift`` evaluation."""

    report: Materialization
    check: CheckEvaluation


def drift_result(dagster: Dagster, check_run: Run) -> DriftResult | None:
    """The drift report and check evaluation written by ``check_run`` (None if it wrote none).

    ``no_drift`` is not declared with partitions, so its evaluation is found by run.
    """
    reports = dagster.materializations(DRIFT_REPORT, check_run.tags["dagster/partition"])
    checks = dagster.check_evaluations(DRIFT_REPORT, NO_DRIFT)
    report = next((r for r in reports if r.run_id == check_run.run_id), None)
    check = next((c for c in checks if c.run_id == check_run.run_id), None)
    if report is None or check is None:
        return None
    return DriftResult(report, check)


def wait_for_retraining_start(dagster: Dagster, batch: str, timeout: float) -> Run:
    """Poll until the retraining run of ``batch`` has started or ended (maybe without ever
    starting, when its launch failed); that run."""

    def started() -> Run | None:
        runs = dagster.runs(retraining_filter(batch))
        return next((r for r in runs if r.started is not None or r.status in FINISHED), None)

    return wait_for(started, timeout, f"started {RETRAIN_JOB} run for {batch}", interval=1)


@dataclass(frozen=True)
class RetrainingLatency:
    """Seconds from the drift result (the report the sensor reads) to the retraining run."""

    launched: float  # run created by the sensor
    started: float  # run's process started

    @classmethod
    def of(cls, drift: DriftResult, retraining: Run) -> RetrainingLatency:
        """Latencies of a started retraining run after ``drift``."""
        if retraining.started is None:
            raise AssertionError(f"{retraining.run_id} never started: {retraining.status}")
        origin = drift.report.timestamp
        return cls(retraining.created - origin, retraining.started - origin)


@dataclass(frozen=True)
class BatchTrace:
    """A landed batch followed to the start of its retraining."""

    check_run: Run
    drift: DriftResult
    retraining: Run
    latency: RetrainingLatency


def follow_to_retraining(dagster: Dagster, batch: str, timeout: float) -> BatchTrace:
    """Wait for each stage of ``batch`` in turn (``timeout`` each): its partition, its finished
    drift check run, a failing ``no_drift``, the retraining run's start. An AssertionError names
    the stage that went wrong."""
    wait_for_partition(dagster, batch, timeout)
    check_run = wait_for_check_run(dagster, batch, timeout)
    assert check_run.status == "SUCCESS", dagster.failure_messages(check_run.run_id)
    drift = drift_result(dagster, check_run)
    assert drift is not None, f"check run {check_run.run_id} recorded no drift report and check"
    assert not drift.check.success, f"no_drift passed on a shifted batch: {drift}"
    retraining = wait_for_retraining_start(dagster, batch, timeout)
    return BatchTrace(check_run, drift, retraining, RetrainingLatency.of(drift, retraining))
