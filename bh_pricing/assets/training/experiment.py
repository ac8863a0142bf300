"""``mlflow_experiment``: the MLflow store and experiment every candidate logs to.

Creating a fresh store takes seconds (schema migrations); as its own asset it happens while the
listings are being cleaned instead of inside the first candidate step.
"""

import dagster as dg

from bh_pricing.constants import TRAINING
from bh_pricing.resources import MlflowTracking


@dg.asset(group_name=TRAINING, kinds={"mlflow"})
def mlflow_experiment(mlflow: MlflowTracking) -> dg.MaterializeResult[str]:
    """The experiment's id, created on first use."""
    experiment_id = mlflow.experiment_id()
    metadata: dict[str, object] = {
        "experiment_name": mlflow.experiment_name,
        "experiment_id": experiment_id,
        "tracking_uri": mlflow.tracking_uri,
    }
    url = mlflow.experiment_url(experiment_id)
    if url is not None:
        metadata["mlflow_experiment"] = dg.MetadataValue.url(url)
    return dg.MaterializeResult(value=experiment_id, metadata=metadata)
