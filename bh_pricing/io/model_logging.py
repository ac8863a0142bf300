"""How a fitted candidate is logged to MLflow and read back: the ``PricingModel`` pyfunc.

``mlflow.pyfunc.load_model("models:/bh-pricing@champion").predict(df)`` accepts the feature
columns as people have them (ints, floats, None/NaN, numeric strings, pandas ``category`` or
``string`` dtypes) and returns a frame with ``price`` (BRL) and the conformal prediction
interval ``interval_level``, ``interval_low``, ``interval_high`` (BRL;
``bh_pricing.core.intervals``). The scikit-learn
estimator inside is what the ONNX export converts (``load_pricing_model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import AnyType, ColSpec, Schema

import bh_pricing
from bh_pricing.constants import FEATURE_COLUMNS, NUMERIC_FEATURES
from bh_pricing.contract import known_lookup, to_known
from bh_pricing.core.evaluation import CrossValidation
from bh_pricing.core.intervals import DEFAULT_LEVEL, ConformalInterval, calibrate, coverage

REQUIRED_FEATURES = ("neighborhood", "square_foot", "rooms")
# Absent or blank means none, as in the listing sites' columns (see core.cleaning).
ZERO_IF_MISSING = ("garage_places", "adm_fees")
OUTPUT_COLUMNS = ("price", "interval_level", "interval_low", "interval_high")
CALIBRATION_METHOD = "{folds}-fold out-of-fold log residuals on train_listings"


class FeatureError(ValueError):
    """The input frame cannot be turned into model features; the message names the column."""


def coerce_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's feature frame (``FEATURE_COLUMNS``: neighborhood as str, the rest float64).

    Accepts any numeric or string dtype, numeric strings, None/NaN and ``pd.NA``;
    missing ``garage_places``/``adm_fees`` mean 0 and missing coordinates NaN. Raises
    FeatureError naming the column for a missing required column, a missing neighborhood, or a
    value that is not a number.
    """
    if not isinstance(frame, pd.DataFrame):
        raise FeatureError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    absent = [c for c in REQUIRED_FEATURES if c not in frame.columns]
    if absent:
        raise FeatureError(f"missing column(s) {absent}; required: {list(REQUIRED_FEATURES)}")
    result = pd.DataFrame(index=frame.index)
    neighborhood = frame["neighborhood"].astype(object)
    blank = neighborhood.isna() | (neighborhood.astype(str).str.strip() == "")
    if blank.any():
        raise FeatureError(f"neighborhood: missing in row(s) {list(frame.index[blank][:10])}")
    result["neighborhood"] = neighborhood.astype(str).str.strip().to_numpy(dtype=object)
    for column in NUMERIC_FEATURES:
        if column not in frame.columns:
            result[column] = 0.0 if column in ZERO_IF_MISSING else np.nan
            continue
        values = frame[column].astype(object).where(frame[column].notna(), None)
        try:
            numbers = pd.to_numeric(values, errors="raise").astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"{column}: not a number ({exc})") from None
        result[column] = numbers.fillna(0.0) if column in ZERO_IF_MISSING else numbers
    return result.loc[:, list(FEATURE_COLUMNS)]


class PricingModel(mlflow.pyfunc.PythonModel):
    """A fitted price estimator (BRL) with its conformal interval, as an MLflow pyfunc.

    Neighborhoods are matched to the training spelling by their canonical form
    (``bh_pricing.contract``): ``"LOURDES"`` or ``" lourdes "`` price like ``"Lourdes"``.
    """

    def __init__(
        self, estimator: Any, interval: ConformalInterval, known_neighborhoods: list[str]
    ) -> None:
        self.estimator = estimator
        self.interval = interval
        self.lookup = known_lookup(known_neighborhoods)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """``price`` and ``interval_level``/``interval_low``/``interval_high`` per input row."""
        features = coerce_features(model_input)
        features["neighborhood"] = to_known(features["neighborhood"].to_numpy(), self.lookup)
        prices = np.asarray(self.estimator.predict(features), dtype=np.float64)
        low, high = self.interval.bounds(prices)
        return pd.DataFrame(
            {
                "price": prices,
                "interval_level": self.interval.level,
                "interval_low": low,
                "interval_high": high,
            },
            index=features.index,
        )


def calibrate_interval(
    validation: CrossValidation, folds: int, level: float = DEFAULT_LEVEL
) -> ConformalInterval:
    """Conformal interval from the out-of-fold predictions of a K-fold ``validation``.

    Every row was predicted by a clone fitted without its fold (the K-fold scheme of Barber et al.
    2021, "Predictive inference with the jackknife+", Ann. Statist. 49(1)), so no score comes
    from a listing its model saw; the interval is then applied to the model fitted on all rows.
    The rows are those of the CV metrics (a seeded sample above ``CV_MAX_ROWS``).
    """
    return calibrate(
        validation.y, validation.predictions, level, CALIBRATION_METHOD.format(folds=folds)
    )


def signature() -> ModelSignature:
    """Input columns of any type (coerced by ``coerce_features``), output price and interval."""
    inputs = Schema(
        [ColSpec(AnyType(), name, required=name in REQUIRED_FEATURES) for name in FEATURE_COLUMNS]
    )
    outputs = Schema([ColSpec("double", name) for name in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_pricing_model(
    estimator: Any,
    interval: ConformalInterval,
    X: pd.DataFrame,
    pip_requirements: list[str],
) -> ModelInfo:
    """Log ``PricingModel`` of ``estimator`` fitted on features ``X`` as ``model`` of the run.

    The package source travels with it (``code_paths``), so it loads where bh-pricing is not
    installed; the interval is also logged as run params (``interval_*``).
    """
    mlflow.log_params(
        {
            "interval_level": interval.level,
            "interval_log_halfwidth": round(interval.log_halfwidth, 6),
            "interval_calibration_rows": interval.calibration_rows,
            "interval_method": interval.method,
        }
    )
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=PricingModel(estimator, interval, sorted(X["neighborhood"].unique())),
        signature=signature(),
        input_example=X.head(5),
        pip_requirements=pip_requirements,
        code_paths=[str(Path(bh_pricing.__file__).parent)],
    )


def load_pricing_model(model_uri: str) -> tuple[Any, ConformalInterval | None]:
    """The scikit-learn estimator of a logged model and its interval (None for models logged
    before intervals, with the scikit-learn flavor)."""
    model = mlflow.pyfunc.load_model(model_uri)
    inner = model.unwrap_python_model() if _is_python_model(model) else None
    if isinstance(inner, PricingModel):
        return inner.estimator, inner.interval
    return mlflow.sklearn.load_model(model_uri), None


def _is_python_model(model: mlflow.pyfunc.PyFuncModel) -> bool:
    return model.metadata.flavors.get("python_function", {}).get("loader_module") == (
        "mlflow.pyfunc.model"
    )


def predicted_prices(output: Any) -> np.ndarray:
    """Prices (BRL) from a pyfunc output: a ``PricingModel`` frame or a plain array/series."""
    if isinstance(output, pd.DataFrame):
        if "price" not in output.columns:
            raise ValueError(f"model output has no price column: {list(output.columns)}")
        return output["price"].to_numpy(dtype=np.float64)
    return np.asarray(output, dtype=np.float64).ravel()


def interval_metrics(output: Any, prices: pd.Series) -> dict[str, float]:
    """``interval_coverage`` (share of ``prices`` inside their interval) and
    ``interval_mean_width`` (BRL) of a ``PricingModel`` output; empty for a model without one."""
    if not isinstance(output, pd.DataFrame) or "interval_low" not in output.columns:
        return {}
    low, high = output["interval_low"].to_numpy(), output["interval_high"].to_numpy()
    return {
        "interval_coverage": coverage(prices.to_numpy(), low, high),
        "interval_mean_width": float(np.mean(high - low)),
    }


class PriceOnly:
    """A loaded pyfunc seen as ``predict(features) -> prices`` (BRL), whatever its output."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Prices in BRL, one per row of ``X``."""
        return predicted_prices(self.model.predict(X))
