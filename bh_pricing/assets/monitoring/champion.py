"""The champion as drift monitoring sees it: the model and the reference it is compared on."""

from dataclasses import dataclass

import pandas as pd
from mlflow import pyfunc

from bh_pricing.constants import CHAMPION_ALIAS, CHAMPION_URI
from bh_pricing.io import registry
from bh_pricing.io.model_logging import PriceOnly
from bh_pricing.monitoring.drift import PriceModel
from bh_pricing.monitoring.retraining import split_holdout
from bh_pricing.resources import MlflowTracking


@dataclass(frozen=True)
class MonitoredChampion:
    """The champion model (None before the first one) and its drift reference."""

    model: PriceModel | None
    version: str | None
    reference: pd.DataFrame
    reference_source: str


def load_champion(mlflow: MlflowTracking, test_listings: pd.DataFrame) -> MonitoredChampion:
    """Champion from the registry (None before the first); its reference is the reference half
    of ``test_listings``, the holdout of every market the champion was trained on."""
    version = registry.version_by_alias(mlflow.client(), CHAMPION_ALIAS)
    model = None if version is None else PriceOnly(pyfunc.load_model(CHAMPION_URI))
    reference, _ = split_holdout(test_listings)
    return MonitoredChampion(
        model, None if version is None else str(version.version), reference, "test_listings (half)"
    )
