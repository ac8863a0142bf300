"""Regression metrics, cross-validation and per-neighborhood residuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin, clone
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, cross_validate

METRICS = ("rmse", "mae", "mape", "r2")
CV_MAX_ROWS = 20_000
_SCORERS = {
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "mape": "neg_mean_absolute_percentage_error",
    "r2": "r2",
}


def regression_metrics(y_true: pd.Series | np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE (BRL), MAPE (fraction) and R² of predictions."""
    return {
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def bounded_sample(
    X: pd.DataFrame, y: pd.Series, max_rows: int, seed: int
) -> tuple[pd.DataFrame, pd.Series]:
    """``X, y`` unchanged up to ``max_rows`` rows, else a seeded uniform sample of ``max_rows``."""
    if len(X) <= max_rows:
        return X, y
    rows = np.sort(np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False))
    return X.iloc[rows], y.iloc[rows]


def cross_validated_metrics(
    estimator: RegressorMixin,
    X: pd.DataFrame,
    y: pd.Series,
    folds: int = 5,
    seed: int = 42,
    max_rows: int = CV_MAX_ROWS,
) -> dict[str, float]:
    """Mean and std of each metric over shuffled K folds (``cv_<m>``, ``cv_<m>_std``).

    Above ``max_rows`` training rows the folds are cut from a seeded sample of ``max_rows`` rows
    (``bounded_sample``): the estimate's noise then comes from the folds, not from the sample,
    and K refits of a million rows are not worth their time. Callers log ``min(n, max_rows)``.
    """
    X, y = bounded_sample(X, y, max_rows, seed)
    scores = cross_validate(
        clone(estimator), X, y, cv=KFold(folds, shuffle=True, random_state=seed), scoring=_SCORERS
    )
    result: dict[str, float] = {}
    for name in METRICS:
        values = scores[f"test_{name}"] * (1 if name == "r2" else -1)
        result[f"cv_{name}"] = float(np.mean(values))
        result[f"cv_{name}_std"] = float(np.std(values))
    return result


def residuals_by_neighborhood(
    frame: pd.DataFrame, y_pred: np.ndarray, top: int = 15
) -> pd.DataFrame:
    """Per neighborhood (most listings first): count, median price, bias and median |error| %."""
    errors = pd.DataFrame(
        {
            "neighborhood": frame["neighborhood"].to_numpy(),
            "price": frame["price"].to_numpy(),
            "residual": frame["price"].to_numpy() - y_pred,
        }
    )
    errors["ape"] = errors["residual"].abs() / errors["price"]
    table = errors.groupby("neighborhood").agg(
        listings=("price", "size"),
        median_price=("price", "median"),
        mean_residual=("residual", "mean"),
        median_ape=("ape", "median"),
    )
    return table.sort_values("listings", ascending=False).head(top).reset_index()


def unseen_in_training(
    train: pd.DataFrame,
    test: pd.DataFrame,
    columns: tuple[str, ...] = ("latitude", "longitude", "square_foot"),
    decimals: int = 6,
) -> np.ndarray:
    """``[len(test)]`` bool: True where no training row has the same coordinates and area.

    Such a test row is a flat never seen in training; the others are relistings of a training
    flat (same geocoded address and size). Values are compared after rounding to ``decimals``
    (6 decimals of a degree is about 0.1 m). A row with any of ``columns`` missing has no
    location to match, so it counts as unseen. Raises ``ValueError`` naming missing columns.
    """
    for role, frame in (("train", train), ("test", test)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{role} frame is missing column(s) {missing}")
    seen = pd.MultiIndex.from_frame(train.loc[:, list(columns)].round(decimals).dropna())
    keys = test.loc[:, list(columns)].round(decimals)
    present = pd.MultiIndex.from_frame(keys).isin(seen)
    return ~present | keys.isna().any(axis=1).to_numpy()
