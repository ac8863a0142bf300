"""The webserver's GraphQL API as the topology tests use it: launch runs, read runs and sensors."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dagster_graphql import DagsterGraphQLClient

# The main graph, and the dynamically partitioned batch assets with the sensors.
MAIN_LOCATION = "bh_pricing"
LOCATIONS = (MAIN_LOCATION,)
REPOSITORY = "__repository__"
ASSET_JOB = "__ASSET_JOB"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

ASSET_NODES = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    groupName
    jobNames
    automationCondition { label }
    isPartitioned
    isMaterializable
    dependencyKeys { path }
  }
}"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId status jobName creationTime startTime
        tags { key value } assetSelection { path }
      }
    }
    ... on PythonError { message }
  }
}"""

RUN_EVENTS = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on ExecutionStepFailureEvent { error { message causes { message } } }
        ... on RunFailureEvent { error { message } }
      }
    }
    ... on PythonError { message }
  }
}"""

SENSORS = """
query Sensors($selector: RepositorySelector!) {
  sensorsOrError(repositorySelector: $selector) {
    __typename
    ... on Sensors { results { name minIntervalSeconds sensorState { status } } }
    ... on PythonError { message }
  }
}"""

SENSOR_TICKS = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 10) { timestamp status } } }
    ... on PythonError { message }
  }
}"""

PARTITION_KEYS = """
query PartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}"""

MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset { assetMaterializations(partitions: $partitions) { timestamp runId partition } }
  }
}"""

LATEST_METADATA = """
query LatestMetadata($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on BoolMetadataEntry { boolValue }
        }
      }
    }
  }
}"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 25) {
    runId
    evaluation { timestamp success severity partition }
  }
}"""

LOCATION_STATUS = """
query LocationStatus {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}"""


RELOAD_LOCATION = """
mutation ReloadLocation($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      loadStatus
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""


class GraphQLError(RuntimeError):
    """The API answered with errors, or with an error type instead of data."""


@dataclass(frozen=True)
class Run:
    """The parts of a run the tests look at."""

    run_id: str
    status: str
    job_name: str
    tags: dict[str, str]
    asset_keys: tuple[str, ...]
    created: float  # epoch seconds, when the run was submitted
    started: float | None  # epoch seconds, when its process started (None until then)


@dataclass(frozen=True)
class Materialization:
    """One materialization event of an asset (partition)."""

    timestamp: float  # epoch seconds
    run_id: str
    partition: str | None


@dataclass(frozen=True)
class CheckEvaluation:
    """One evaluated asset check (a planned check not evaluated yet is left out). ``partition``
    is only set for checks declared with partitions."""

    timestamp: float  # epoch seconds
    run_id: str
    success: bool
    severity: str
    partition: str | None


class Dagster:
    """Client for one webserver on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one query; the ``data`` member of the answer."""
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            self.url, body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"], indent=2))
        return answer["data"]

    def locations_loaded(self) -> bool:
        """True once every code location is loaded without error."""
        workspace = self.query(LOCATION_STATUS)["workspaceOrError"]
        loaded = set()
        for entry in workspace.get("locationEntries", []):
            if entry["loadStatus"] != "LOADED":
                continue
            location = entry["locationOrLoadError"] or {}
            if location.get("__typename") == "PythonError":
                raise GraphQLError(f"{entry['name']} failed to load: {location['message']}")
            if location.get("__typename") == "RepositoryLocation":
                loaded.add(entry["name"])
        return loaded >= set(LOCATIONS)

    def reload_location(self, name: str) -> bool:
        """Ask the webserver to load a code location again (the UI's *Reload*); True once it
        is loaded without error."""
        answer = self.query(RELOAD_LOCATION, {"name": name})["reloadRepositoryLocation"]
        if answer["__typename"] != "WorkspaceLocationEntry":
            raise GraphQLError(f"reloadRepositoryLocation {name}: {answer}")
        location = answer["locationOrLoadError"] or {}
        return answer["loadStatus"] == "LOADED" and location.get("__typename") != "PythonError"

    def asset_nodes(self) -> dict[str, dict[str, Any]]:
        """Asset nodes by user string key (``a/b``); where a location only references an asset
        another one defines, the defining (materializable) node wins."""
        found: dict[str, dict[str, Any]] = {}
        for node in self.query(ASSET_NODES)["assetNodes"]:
            key = "/".join(node["assetKey"]["path"])
            if key not in found or node["isMaterializable"]:
                found[key] = node
        return found

    def launch(self, asset_keys: Sequence[str], run_config: dict[str, Any] | None = None) -> str:
        """Launch a run of the asset job materializing ``asset_keys``; its run id."""
        return self.client.submit_job_execution(
            ASSET_JOB,
            repository_location_name=MAIN_LOCATION,
            repository_name=REPOSITORY,
            run_config=run_config or {},
            asset_selection=[key.split("/") for key in asset_keys],
        )

    def runs(self, filter_: dict[str, Any] | None = None) -> list[Run]:
        """Runs matching a RunsFilter, newest first."""
        answer = self.query(RUNS, {"filter": filter_ or {}})["runsOrError"]
        if answer["__typename"] != "Runs":
            raise GraphQLError(f"runsOrError: {answer}")
        return [
            Run(
                r["runId"],
                r["status"],
                r["jobName"],
                {t["key"]: t["value"] for t in r["tags"]},
                tuple("/".join(k["path"]) for k in r["assetSelection"] or []),
                r["creationTime"],
                r["startTime"],
            )
            for r in answer["results"]
        ]

    def run(self, run_id: str) -> Run:
        """One run by id."""
        found = self.runs({"runIds": [run_id]})
        if not found:
            raise GraphQLError(f"no run {run_id}")
        return found[0]

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """Every event of a run, oldest first."""
        answer = self.query(RUN_EVENTS, {"runId": run_id})["logsForRun"]
        if answer["__typename"] != "EventConnection":
            raise GraphQLError(f"logsForRun: {answer}")
        return answer["events"]

    def partition_keys(self, asset_key: str) -> list[str]:
        """Partition keys of a partitioned asset (dynamic ones as the instance knows them)."""
        variables = {"assetKey": {"path": asset_key.split("/")}}
        answer = self.query(PARTITION_KEYS, variables)["assetNodeOrError"]
        if answer["__typename"] != "AssetNode":
            raise GraphQLError(f"assetNodeOrError {asset_key}: {answer}")
        return answer["partitionKeys"]

    def latest_metadata(self, asset_key: str) -> tuple[str, dict[str, Any]]:
        """Run id and metadata (int, text and bool entries) of an asset's latest materialization."""
        answer = self.query(LATEST_METADATA, {"assetKey": {"path": asset_key.split("/")}})
        asset = answer["assetOrError"]
        if asset["__typename"] != "Asset" or not asset["assetMaterializations"]:
            raise GraphQLError(f"{asset_key} was never materialized")
        (latest,) = asset["assetMaterializations"]
        values = {
            entry["label"]: next(
                (entry[k] for k in ("intValue", "text", "boolValue") if k in entry), None
            )
            for entry in latest["metadataEntries"]
        }
        return latest["runId"], values

    def materializations(
        self, asset_key: str, partition: str | None = None
    ) -> list[Materialization]:
        """Materializations of an asset (of one partition, if given), newest first."""
        variables = {
            "assetKey": {"path": asset_key.split("/")},
            "partitions": None if partition is None else [partition],
        }
        answer = self.query(MATERIALIZATIONS, variables)["assetOrError"]
        if answer["__typename"] != "Asset":
            return []  # never materialized
        return [
            Materialization(int(m["timestamp"]) / 1000, m["runId"], m["partition"])
            for m in answer["assetMaterializations"]
        ]

    def check_evaluations(self, asset_key: str, check_name: str) -> list[CheckEvaluation]:
        """The latest evaluations of an asset check, newest first."""
        variables = {"assetKey": {"path": asset_key.split("/")}, "checkName": check_name}
        executions = self.query(CHECK_EXECUTIONS, variables)["assetCheckExecutions"]
        return [
            CheckEvaluation(
                e["evaluation"]["timestamp"],
                e["runId"],
                e["evaluation"]["success"],
                e["evaluation"]["severity"],
                e["evaluation"]["partition"],
            )
            for e in executions
            if e["evaluation"] is not None
        ]

    def failure_messages(self, run_id: str) -> list[str]:
        """Error messages (with their causes) of failed steps and of the run."""
        messages = []
        for event in self.events(run_id):
            error = event.get("error")
            if error:
                causes = [c["message"] for c in error.get("causes") or []]
                messages.append("\n".join([error["message"], *causes]))
        return messages

    def wait_for_run(self, run_id: str, timeout: float) -> Run:
        """Poll until the run finishes; the finished run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run.status in FINISHED:
                return run
            time.sleep(2)
        raise TimeoutError(f"run {run_id} still {self.run(run_id).status} after {timeout:.0f}s")

    def wait_for_step_start(self, run_id: str, step_keys: Sequence[str], timeout: float) -> str:
        """Poll until one of ``step_keys`` starts; its key."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events(run_id):
                started = event["__typename"] == "ExecutionStepStartEvent"
                if started and event["stepKey"] in step_keys:
                    return event["stepKey"]
            if self.run(run_id).status in FINISHED:
                raise AssertionError(f"run {run_id} finished before any of {step_keys} started")
            time.sleep(0.5)
        raise TimeoutError(f"none of {step_keys} started in run {run_id} within {timeout:.0f}s")

    def wait_for_runs(
        self, filter_: dict[str, Any], count: int, timeout: float, finished: bool = False
    ) -> list[Run]:
        """Poll until ``count`` runs match (and have finished, if asked); those runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(filter_)
            if finished:
                runs = [r for r in runs if r.status in FINISHED]
            if len(runs) >= count:
                return runs
            time.sleep(2)
        raise TimeoutError(f"fewer than {count} runs match {filter_} after {timeout:.0f}s")

    def _sensors(self) -> dict[str, tuple[str, dict[str, Any]]]:
        found = {}
        for location in LOCATIONS:
            selector = {"repositoryLocationName": location, "repositoryName": REPOSITORY}
            answer = self.query(SENSORS, {"selector": selector})["sensorsOrError"]
            if answer["__typename"] != "Sensors":
                raise GraphQLError(f"sensorsOrError in {location}: {answer}")
            found.update({s["name"]: (location, s) for s in answer["results"]})
        return found

    def sensors(self) -> dict[str, str]:
        """Sensor name -> the code location defining it."""
        return {name: location for name, (location, _) in self._sensors().items()}

    def sensor_intervals(self) -> dict[str, int]:
        """Sensor name -> its minimum interval between evaluations, in seconds."""
        return {name: s["minIntervalSeconds"] for name, (_, s) in self._sensors().items()}

    def wait_for_sensor_tick(self, name: str, after: float, timeout: float) -> str:
        """Poll until the sensor completes a tick that started after ``after`` (epoch s)."""
        selector = {
            "repositoryLocationName": self.sensors()[name],
            "repositoryName": REPOSITORY,
            "sensorName": name,
        }
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.query(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
            if answer["__typename"] != "Sensor":
                raise GraphQLError(f"sensorOrError {name}: {answer}")
            for tick in answer["sensorState"]["ticks"]:
                if tick["timestamp"] > after and tick["status"] != "STARTED":
                    return tick["status"]
            time.sleep(2)
        raise TimeoutError(f"sensor {name} did not tick within {timeout:.0f}s after {after}")
