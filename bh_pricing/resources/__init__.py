"""The one place that chooses local or production resources (``BH_PRICING_ENV=local|prod``).

Both sets have the same keys. Local needs no services: everything lives under
``BH_PRICING_HOME`` (default ``./.bh_pricing``). Production reads every location from the
environment at run time through ``dg.EnvVar``; credentials come from the standard AWS/MLflow
variables, never from code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg

from bh_pricing.resources.locations import Locations
from bh_pricing.resources.mlflow import MlflowTracking
from bh_pricing.resources.monitoring import MonitoringSettings
from bh_pricing.resources.raw_source import RawListingsSource
from bh_pricing.resources.serving_endpoint import ServingEndpoint

ENV_VAR = "BH_PRICING_ENV"
DEPLOYMENTS = ("local", "prod")

__all__ = [
    "Locations",
    "MlflowTracking",
    "MonitoringSettings",
    "RawListingsSource",
    "ServingEndpoint",
    "build_resources",
    "deployment",
]


def deployment() -> str:
    """``local`` (default) or ``prod``, from BH_PRICING_ENV."""
    name = os.environ.get(ENV_VAR, "local").strip().lower()
    if name not in DEPLOYMENTS:
        raise ValueError(f"{ENV_VAR}={name!r} is not one of {DEPLOYMENTS}")
    return name


def home() -> Path:
    """Folder holding all local state (BH_PRICING_HOME, default ./.bh_pricing), absolute."""
    return Path(os.environ.get("BH_PRICING_HOME", ".bh_pricing")).expanduser().resolve()


def build_resources(name: str | None = None) -> dict[str, Any]:
    """Resources for the ``local`` or ``prod`` deployment."""
    name = name or deployment()
    if name == "prod":
        return {**_prod(), **_shared()}
    if name == "local":
        return {**_local(home()), **_shared()}
    raise ValueError(f"unknown deployment {name!r}; expected one of {DEPLOYMENTS}")


def _shared() -> dict[str, Any]:
    """Same in every deployment: monitoring settings and the endpoint the smoke check calls."""
    return {"monitoring": _monitoring(), "serving_endpoint": _serving_endpoint()}


def _serving_endpoint() -> ServingEndpoint:
    """The endpoint the smoke check calls: the deployed API at BH_PRICING_SMOKE_URL (with its key
    BH_PRICING_SMOKE_API_KEY, read at run time), the deployed function BH_PRICING_SMOKE_LAMBDA
    (name or ARN, optionally :<alias>; invoked with the standard AWS credentials and region), or,
    with neither, the handler in-process on the published bundles. Both set: ValueError here.
    BH_PRICING_SMOKE_WAIT_SECONDS (60): how long a deployed endpoint may still answer with the
    previous version."""
    key = "BH_PRICING_SMOKE_API_KEY"
    wait = os.environ.get("BH_PRICING_SMOKE_WAIT_SECONDS")
    return ServingEndpoint(
        url=os.environ.get("BH_PRICING_SMOKE_URL") or None,
        api_key=dg.EnvVar(key) if os.environ.get(key) else None,
        lambda_function=os.environ.get("BH_PRICING_SMOKE_LAMBDA") or None,
        **({"wait_seconds": float(wait)} if wait else {}),
    )


def _monitoring() -> MonitoringSettings:
    """Plain settings, no secrets."""
    return MonitoringSettings(
        promotion_policy=os.environ.get("BH_PRICING_PROMOTION_POLICY", "auto"),
        retrain_cooldown_seconds=float(
            os.environ.get("BH_PRICING_RETRAIN_COOLDOWN_SECONDS", "3600")
        ),
    )


def _local(root: Path) -> dict[str, Any]:
    mlflow_dir = root / "mlflow"
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    return {
        "io_manager": dg.FilesystemIOManager(base_dir=str(root / "storage")),
        "mlflow": MlflowTracking(
            tracking_uri=tracking_uri,
            artifact_location=(mlflow_dir / "artifacts").as_uri(),
            ui_url=os.environ.get("BH_PRICING_MLFLOW_UI_URL", "http://127.0.0.1:5000"),
        ),
        "raw_source": RawListingsSource(uri=os.environ.get("BH_PRICING_RAW_URI", "sample")),
        "locations": Locations(
            landing_uri=os.environ.get("BH_PRICING_LANDING_URI", str(root / "landing")),
            artifacts_uri=os.environ.get("BH_PRICING_ARTIFACTS_URI", str(root / "artifacts")),
            prediction_log_uri=os.environ.get(
                "BH_PRICING_PREDICTION_LOG_URI", str(root / "prediction-log")
            ),
        ),
    }


def _prod() -> dict[str, Any]:
    from dagster_aws.s3 import S3PickleIOManager, S3Resource  # only production needs it

    s3 = S3Resource()
    return {
        "io_manager": S3PickleIOManager(
            s3_resource=s3, s3_bucket=dg.EnvVar("BH_PRICING_S3_BUCKET"), s3_prefix="dagster/io"
        ),
        "mlflow": MlflowTracking(
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"),
            ui_url=dg.EnvVar("BH_PRICING_MLFLOW_UI_URL"),
        ),
        "raw_source": RawListingsSource(uri=dg.EnvVar("BH_PRICING_RAW_URI")),
        "locations": Locations(
            landing_uri=dg.EnvVar("BH_PRICING_LANDING_URI"),
            artifacts_uri=dg.EnvVar("BH_PRICING_ARTIFACTS_URI"),
            prediction_log_uri=dg.EnvVar("BH_PRICING_PREDICTION_LOG_URI"),
        ),
    }
