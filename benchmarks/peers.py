"""Off-the-shelf gradient boosting libraries, tuned like our candidates: the peers to beat.

A user who does not adopt bh-pricing would fit LightGBM or CatBoost on the same columns: raw
latitude/longitude, neighborhood as a native categorical feature, log price as the target (both
libraries are scored on the same held-out split as our candidates, in BRL). Each peer gets the
search budget of our candidates (``TRIALS``, the largest ``CandidateSpec.search_trials``: the 27
parameter sets of ``ridge``'s grid; the tree candidates search nothing when they fit): as many
parameter sets (seeded random draws from the grid below), each scored by the same K-fold CV RMSE
on the same rows as ``fit_candidate`` scores its trials (at most ``SEARCH_MAX_ROWS`` training
rows), the best refitted on all training rows.
``lightgbm (issue)`` is the untuned configuration the issue compares with (2,000 trees, learning
rate 0.02, row and feature subsampling 0.8).

CatBoost is large (about 270 MB installed) and lives in the ``bench`` extra only
(``pip install -e '.[bench]'``); without it its rows say "skipped", never a silent gap.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import KFold, ParameterSampler

from bh_pricing.core.evaluation import bounded_sample
from bh_pricing.core.models import CANDIDATES, SEARCH_MAX_ROWS

TRIALS = max(spec.search_trials for spec in CANDIDATES.values())
CATEGORICAL = "neighborhood"


@dataclass(frozen=True)
class Peer:
    """A library's regressor: how to build it, the grid to sample, the module it needs."""

    name: str
    module: str
    build: Callable[..., Any]
    space: dict[str, list[Any]]

    def available(self) -> bool:
        """Whether the library is installed."""
        return importlib.util.find_spec(self.module) is not None


class LogPriceModel:
    """Fits ``regressor`` to log price and predicts exp(.) in BRL, like our candidates.

    ``categorical`` casts the neighborhood column to a pandas categorical first (LightGBM's
    native categorical split; it maps categories unseen in training to missing).
    """

    def __init__(self, regressor: Any, categorical: bool = False) -> None:
        self.regressor = regressor
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: pd.Series) -> LogPriceModel:
        """Fit on log(``y``); returns self."""
        self.regressor.fit(self._frame(X), np.log(y.to_numpy(float)))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Prices in BRL."""
        return np.exp(self.regressor.predict(self._frame(X)))

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.categorical:
            return X
        return X.assign(**{CATEGORICAL: X[CATEGORICAL].astype("category")})


def lightgbm(**params: Any) -> LogPriceModel:
    """``LGBMRegressor`` on log price, neighborhood native categorical, one thread."""
    from lightgbm import LGBMRegressor

    settings = {"subsample_freq": 1, "n_jobs": 1, "verbose": -1, "random_state": 0, **params}
    return LogPriceModel(LGBMRegressor(**settings), categorical=True)


def catboost(**params: Any) -> LogPriceModel:
    """``CatBoostRegressor`` on log price, neighborhood categorical, one thread, no files."""
    from catboost import CatBoostRegressor

    settings = {
        "thread_count": 1,
        "verbose": 0,
        "random_seed": 0,
        "allow_writing_files": False,
        **params,
    }
    return LogPriceModel(CatBoostRegressor(cat_features=[CATEGORICAL], **settings))


ISSUE_LIGHTGBM = {
    "n_estimators": 2000,
    "learning_rate": 0.02,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
}
PEERS = (
    Peer(
        "lightgbm",
        "lightgbm",
        lightgbm,
        {
            "n_estimators": [500, 1000, 2000],
            "learning_rate": [0.01, 0.02, 0.05],
            "num_leaves": [15, 31, 63],
            "min_child_samples": [5, 10, 20],
            "subsample": [0.7, 0.8, 1.0],
            "colsample_bytree": [0.5, 0.8, 1.0],
            "reg_lambda": [0.0, 1.0, 5.0],
        },
    ),
    Peer(
        "catboost",
        "catboost",
        catboost,
        {
            "iterations": [500, 1000, 1500],
            "learning_rate": [0.03, 0.06, 0.1],
            "depth": [4, 6, 8],
            "l2_leaf_reg": [1.0, 3.0, 10.0],
        },
    ),
)


@dataclass
class TunedPeer:
    """The refitted best model of a search, its parameters and its CV RMSE (mean, std)."""

    estimator: Any
    params: dict[str, Any]
    cv_rmse: float
    cv_rmse_std: float


def tune(
    peer: Peer,
    X: pd.DataFrame,
    y: pd.Series,
    trials: int = TRIALS,
    folds: int = 5,
    seed: int = 42,
) -> TunedPeer:
    """Seeded random search: ``trials`` parameter sets, each scored by K-fold CV RMSE (BRL).

    The folds are those of ``fit_candidate``'s search: cut (``KFold``, shuffled with ``seed``)
    from at most ``SEARCH_MAX_ROWS`` rows (``bounded_sample``); the best set is refitted on all of
    ``X``. A plain loop rather than ``RandomizedSearchCV``: CatBoost estimators do not survive
    scikit-learn's ``clone``. The same folds score every trial. Raises ``ValueError`` when
    ``trials`` < 1.
    """
    X_search, y_search, _ = bounded_sample(X, y, SEARCH_MAX_ROWS, seed)
    splits = list(KFold(folds, shuffle=True, random_state=seed).split(X_search))
    best: tuple[float, float, dict[str, Any]] | None = None
    for params in ParameterSampler(peer.space, trials, random_state=seed):
        scores = []
        for train, test in splits:
            model = peer.build(**params).fit(X_search.iloc[train], y_search.iloc[train])
            predicted = model.predict(X_search.iloc[test])
            scores.append(root_mean_squared_error(y_search.iloc[test], predicted))
        if best is None or np.mean(scores) < best[0]:
            best = (float(np.mean(scores)), float(np.std(scores)), params)
    if best is None:
        raise ValueError(f"trials must be at least 1, got {trials}")
    mean, std, params = best
    return TunedPeer(peer.build(**params).fit(X, y), params, mean, std)
