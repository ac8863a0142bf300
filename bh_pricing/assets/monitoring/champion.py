"""The champion as drift monitoring sees it: the model and the reference it is compared on."""

import io
from dataclasses import dataclass

import pandas as pd
from mlflow import pyfunc

from bh_pricing.constants import CHAMPION_ALIAS, CHAMPION_URI
from bh_pricing.io import registry, storage
from bh_pricing.io.model_logging import PriceOnly
from bh_pricing.monitoring.drift import PriceModel
from bh_pricing.monitoring.retraining import split_holdout
from bh_pricing.resources import MlflowTracking

REFERENCE_TAG = "drift_reference"


@dataclass(frozen=True)
class MonitoredChampion:
    """The champion model (None before the first one) and its drift reference."""

    model: PriceModel | None
    version: str | None
    reference: pd.DataFrame
    reference_source: str


def load_champion(mlflow: MlflowTracking, test_listings: pd.DataFrame) -> MonitoredChampion:
    """Champion from the registry; its reference is the holdout it was promoted on, if tagged
    (a retrained champion), else the reference half of ``test_listings``."""
    version = registry.version_by_alias(mlflow.client(), CHAMPION_ALIAS)
    model = None if version is None else PriceOnly(pyfunc.load_model(CHAMPION_URI))
    uri = None if version is None else version.tags.get(REFERENCE_TAG)
    if uri:
        reference = pd.read_parquet(io.BytesIO(storage.read_bytes(uri)))
        return MonitoredChampion(model, version.version, reference, uri)
    reference, _ = split_holdout(test_listings)
    return MonitoredChampion(
        model, None if version is None else version.version, reference, "test_listings (half)"
    )


def save_reference(frame: pd.DataFrame, uri: str) -> str:
    """Store a reference frame as Parquet at ``uri``; return it."""
    storage.write_bytes(uri, frame.to_parquet(index=False))
    return uri
