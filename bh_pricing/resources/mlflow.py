"""MLflow tracking as a Dagster resource.

dagster-mlflow's ``mlflow_tracking`` resource shares one MLflow run per Dagster run and ends it from
the ``end_mlflow_on_run_finished`` hook as soon as the step that is last in topological order
succeeds. Under the multiprocess executor the parallel candidate steps may still be logging
then, so their parameters and models land in a finished run, or in a run another step is ending.
This resource keeps dagster-mlflow's conventions (the ``dagster_run_id`` tag, extra tags) but
every candidate opens its own MLflow run in ``bh_pricing.lifecycle.train_and_log``, closed by
the step that owns it: FINISHED on success, FAILED on error, never by another step.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import dagster as dg
import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from pydantic import Field

from bh_pricing.constants import EXPERIMENT_NAME

# The MLflow UI opens an experiment of this kind on its training runs (not on traces).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"


class MlflowTracking(dg.ConfigurableResource):
    """Where runs and registered models live, and how a step opens its own run."""

    tracking_uri: str = Field(description="MLflow tracking URI (sqlite:///..., http://...)")
    registry_uri: str | None = Field(default=None, description="Registry URI if not the same")
    experiment_name: str = EXPERIMENT_NAME
    artifact_location: str | None = Field(
        default=None, description="Artifact root for a new experiment (local stores only)"
    )
    ui_url: str | None = Field(default=None, description="Base URL of the MLflow UI for links")
    extra_tags: dict[str, str] = Field(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Point this process's MLflow client at the configured stores."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        if self.tracking_uri.startswith("sqlite:///"):
            self._create_sqlite_store(Path(self.tracking_uri.removeprefix("sqlite:///")))

    def _create_sqlite_store(self, path: Path) -> None:
        """Create the SQLite schema once; parallel steps would otherwise race on the migration."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.client().search_experiments(max_results=1)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def client(self) -> MlflowClient:
        """A client bound to the configured tracking and registry URIs."""
        return MlflowClient(self.tracking_uri, self.registry_uri or self.tracking_uri)

    def experiment_id(self) -> str:
        """The experiment's id, created on first use (safe when parallel steps race)."""
        client = self.client()
        found = client.get_experiment_by_name(self.experiment_name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(
                self.experiment_name,
                artifact_location=self.artifact_location,
                tags={EXPERIMENT_KIND_TAG: "custom_model_development"},
            )
        except MlflowException:
            found = client.get_experiment_by_name(self.experiment_name)
            if found is None:
                raise
            return found.experiment_id

    def run_tags(self, context: dg.AssetExecutionContext) -> dict[str, str]:
        """Tags tying an MLflow run or model version to the Dagster step that made it."""
        return {
            "dagster_run_id": context.run.run_id,
            "dagster_job": context.job_name,
            "dagster_asset_key": context.asset_key.to_user_string(),
            **self.extra_tags,
        }

    def run_url(self, run_id: str, experiment_id: str) -> str | None:
        """Link to a run in the MLflow UI, when a UI URL is known."""
        if not self.ui_url:
            return None
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def run_link(self, run_id: str, experiment_id: str) -> dict[str, dg.MetadataValue]:
        """``{"mlflow_run": <url>}`` for asset metadata, or nothing when no UI URL is known."""
        url = self.run_url(run_id, experiment_id)
        return {} if url is None else {"mlflow_run": dg.MetadataValue.url(url)}

    def model_version_link(self, name: str, version: str) -> dict[str, dg.MetadataValue]:
        """``{"mlflow_model_version": <url>}`` of a registered version, or nothing without a UI."""
        if not self.ui_url:
            return {}
        url = f"{self.ui_url.rstrip('/')}/#/models/{name}/versions/{version}"
        return {"mlflow_model_version": dg.MetadataValue.url(url)}

    def experiment_url(self, experiment_id: str) -> str | None:
        """The experiment's page in the MLflow UI (its training runs), when a UI URL is known."""
        if not self.ui_url:
            return None
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs"
