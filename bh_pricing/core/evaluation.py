"""Regression metrics, cross-validation and per-neighborhood residuals."""

from __future__ import annotations

from dataclasses import dataclass

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
CV_MAX_ROWS = 20_000
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


def bounded_sample(
    X: pd.DataFrame,
    y: pd.Series,
    max_rows: int,
    seed: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.Series, np.ndarray | None]:
    """``X, y, sample_weight`` unchanged up to ``max_rows`` rows, else a seeded uniform sample of
    ``max_rows`` rows (the same rows of each)."""
    if len(X) <= max_rows:
        return X, y, sample_weight
    rows = np.sort(np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False))
    weights = None if sample_weight is None else sample_weight[rows]
    return X.iloc[rows], y.iloc[rows], weights


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


@dataclass(frozen=True)
class CrossValidation:
    """K-fold cross-validation of one estimator.

    ``metrics``: mean and std of each metric over the folds (``cv_<m>``, ``cv_<m>_std``);
    ``y`` and ``predictions``: the scored rows' prices and their out-of-fold predictions (BRL,
    shape ``[rows]``), each row predicted by a model fitted without its fold, which is what a
    split-conformal calibration needs (``core.intervals``).
    """

    metrics: dict[str, float]
    y: np.ndarray
    predictions: np.ndarray


def cross_validate(
    estimator: RegressorMixin,
    X: pd.DataFrame,
    y: pd.Series,
    folds: int = 5,
    seed: int = 42,
    sample_weight: np.ndarray | None = None,
    max_rows: int = CV_MAX_ROWS,
) -> CrossValidation:
    """Shuffled K-fold cross-validation of ``estimator`` on ``X, y`` (prices in BRL).

    With ``sample_weight``, each fold is fitted and scored with the weights of its rows, so the
    scores measure what the weighted training optimizes. Above ``max_rows`` training rows the
    folds are cut from a seeded sample of ``max_rows`` rows (``bounded_sample``): the estimate's
    noise then comes from the folds, not from the sample, and K refits of a million rows are not
    worth their time. Callers log ``min(n, max_rows)``.
    """
    X, y, sample_weight = bounded_sample(X, y, max_rows, seed, sample_weight)
    per_fold: dict[str, list[float]] = {name: [] for name in METRICS}
    predictions = np.empty(len(X), dtype=np.float64)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(X):
        fit_weights = None if sample_weight is None else sample_weight[train]
        score_weights = None if sample_weight is None else sample_weight[test]
        fitted = fit_weighted(clone(estimator), X.iloc[train], y.iloc[train], fit_weights)
        predictions[test] = fitted.predict(X.iloc[test])
        scores = regression_metrics(y.iloc[test], predictions[test], score_weights)
        for name in METRICS:
            per_fold[name].append(scores[name])
    metrics: dict[str, float] = {}
    for name in METRICS:
        metrics[f"cv_{name}"] = float(np.mean(per_fold[name]))
        metrics[f"cv_{name}_std"] = float(np.std(per_fold[name]))
    return CrossValidation(metrics, y.to_numpy(dtype=np.float64), predictions)


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
