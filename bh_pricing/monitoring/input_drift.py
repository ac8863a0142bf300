"""Input drift of served requests: the prediction log's features against the champion's reference.

No price is known when a listing is priced, so only the feature tests of ``detect_drift`` apply
(``detect_input_drift``). Requests carry the neighborhood as the caller spelled it; it is compared
by its canonical key (``bh_pricing.contract.canonical_neighborhood``), the key the reference and
the models use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.contract import canonical_neighborhood
from bh_pricing.monitoring.drift import DEFAULT_ALPHA, detect_input_drift
from bh_pricing.monitoring.materiality import DriftThresholds
from bh_pricing.monitoring.report import INSUFFICIENT, DriftReport

NOT_ENOUGH = "not enough predictions"


@dataclass(frozen=True)
class InputDrift:
    """The drift report of the compared requests, and which requests they were.

    ``scope`` says which predictions were compared (``model version 3``, ``all versions``);
    ``logged`` counts every prediction in the log, ``compared`` those in scope.
    """

    report: DriftReport
    requests: pd.DataFrame
    scope: str
    logged: int
    compared: int


def requested_features(log: pd.DataFrame, model_version: str | None = None) -> pd.DataFrame:
    """The logged predictions of ``model_version`` (all when None) as feature rows
    (``FEATURE_COLUMNS``, neighborhoods as canonical keys, missing coordinates as NaN)."""
    rows = log if model_version is None else log[log["model_version"] == model_version]
    features = rows.loc[:, list(FEATURE_COLUMNS)].reset_index(drop=True)
    hoods = features["neighborhood"].fillna("").astype(str).to_numpy(dtype=object)
    features["neighborhood"] = canonical_neighborhood(hoods) if len(hoods) else hoods
    numeric = list(FEATURE_COLUMNS[1:])
    features[numeric] = features[numeric].apply(pd.to_numeric).astype(np.float64)
    return features


def input_drift(
    reference: pd.DataFrame,
    log: pd.DataFrame,
    model_version: str | None,
    alpha: float = DEFAULT_ALPHA,
    min_rows: int = 30,
    thresholds: DriftThresholds | None = None,
) -> InputDrift:
    """Compare the requests priced by ``model_version`` (every logged request when None) with
    ``reference`` (clean listings). Fewer than ``min_rows`` such requests, an empty log
    included, give the verdict "insufficient data" with the reason "not enough predictions".
    """
    requests = requested_features(log, model_version)
    scope = "all versions" if model_version is None else f"model version {model_version}"
    if len(requests) < min_rows:
        reason = f"{NOT_ENOUGH}: {len(requests)} logged for {scope}, at least {min_rows} are needed"
        report = DriftReport((), alpha, len(reference), len(requests), INSUFFICIENT, reason)
    else:
        report = detect_input_drift(
            reference, requests, alpha=alpha, min_rows=min_rows, thresholds=thresholds
        )
    return InputDrift(report, requests, scope, len(log), len(requests))
