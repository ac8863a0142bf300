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
from sklearn.model_selection import KFold

METRICS = ("rmse", "mae", "mape", "r2")
# Every candidate is a pipeline (or wraps one) whose last step is called ``model``.
WEIGHT_PARAM = "model__sample_weight"


def regression_metrics(
    y_true: pd.Series | np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> dict[str, float]:
    """RMSE, MAE (BRL), MAPE (fraction) and R² of predictions, weighted when weights are given."""
    return {
        "rmse": float(root_mean_squared_error(y_true, y_pred, sample_weight=sample_weight)),
        "mae": float(mean_absolute_error(y_true, y_pred, sample_weight=sample_weight)),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred, sample_weight=sample_weight)),
        "r2": float(r2_score(y_true, y_pred, sample_weight=sample_weight)),
    }


def fit_weighted(
    estimator: RegressorMixin,
    X: pd.DataFrame,
    y: pd.Series,
    sample_weight: np.ndarray | None = None,
) -> RegressorMixin:
    """Fit ``estimator``, passing ``sample_weight`` to its final ``model`` step when given."""
    if sample_weight is None:
        return estimator.fit(X, y)
    return estimator.fit(X, y, **{WEIGHT_PARAM: sample_weight})


def cross_validated_metrics(
    estimator: RegressorMixin,
    X: pd.DataFrame,
    y: pd.Series,
    folds: int = 5,
    seed: int = 42,
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean and std of each metric over shuffled K folds (``cv_<m>``, ``cv_<m>_std``).

    With ``sample_weight``, each fold is fitted and scored with the weights of its rows, so the
    scores measure what the weighted training optimizes.
    """
    per_fold: dict[str, list[float]] = {name: [] for name in METRICS}
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        fit_weights = None if sample_weight is None else sample_weight[train]
        score_weights = None if sample_weight is None else sample_weight[test]
        fitted = fit_weighted(clone(estimator), X.iloc[train], y.iloc[train], fit_weights)
        scores = regression_metrics(y.iloc[test], fitted.predict(X.iloc[test]), score_weights)
        for name in METRICS:
            per_fold[name].append(scores[name])
    result: dict[str, float] = {}
    for name in METRICS:
        result[f"cv_{name}"] = float(np.mean(per_fold[name]))
        result[f"cv_{name}_std"] = float(np.std(per_fold[name]))
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
