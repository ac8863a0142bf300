"""The champion through MLflow: a ``PricingModel`` pyfunc that accepts what people pass (ints,
floats, None/NaN, category/string dtypes, numeric strings) and returns the price
with its interval; the README example as written; the estimator back for the ONNX export."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bh_pricing.constants import CHAMPION_ALIAS, CHAMPION_URI, REGISTERED_MODEL_NAME
from bh_pricing.contract import canonical_neighborhood
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.evaluation import cross_validate
from bh_pricing.core.models import CANDIDATES, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io.model_logging import (
    OUTPUT_COLUMNS,
    FeatureError,
    calibrate_interval,
    coerce_features,
    load_pricing_model,
    log_pricing_model,
    predicted_prices,
)

REPO = Path(__file__).resolve().parents[2]
LOURDES = {
    "neighborhood": "Lourdes",
    "square_foot": 120,
    "rooms": 3,
    "garage_places": 2,
    "adm_fees": 900.0,
    "latitude": -19.932,
    "longitude": -43.944,
}


@pytest.fixture(scope="module")
def listings() -> pd.DataFrame:
    return clean_listings(generate_raw_listings(600, seed=5)).clean


@pytest.fixture(scope="module")
def champion(listings: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A gradient-boosting PricingModel registered as bh-pricing@champion in a store laid out like
    ``make run``'s (``<home>/.bh_pricing/mlflow/mlflow.db``); yields (home, estimator)."""
    home = tmp_path_factory.mktemp("repo")
    store = home / ".bh_pricing" / "mlflow"
    store.mkdir(parents=True)
    X, y = split_features_target(listings)
    with threadpool_limits(1):
        estimator = CANDIDATES["gradient_boosting"].build(max_iter=30).fit(X, y)
        interval = calibrate_interval(cross_validate(estimator, X, y, folds=3, seed=0), folds=3)
    # other tests in the session may have pointed the registry elsewhere: set both, restore both
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.create_experiment("t", artifact_location=(store / "art").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_pricing_model(estimator, interval, X, ["scikit-learn", "pandas"])
        client = mlflow.MlflowClient()
        version = mlflow.register_model(info.model_uri, REGISTERED_MODEL_NAME)
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, version.version)
        yield home, estimator, interval
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


@pytest.fixture(scope="module")
def model(champion: Any) -> Any:
    home, _, _ = champion
    mlflow.set_tracking_uri(f"sqlite:///{home / '.bh_pricing' / 'mlflow' / 'mlflow.db'}")
    return mlflow.pyfunc.load_model(CHAMPION_URI)


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(neighborhood=canonical_neighborhood(frame["neighborhood"].to_numpy()))


def _frame(**changes: Any) -> pd.DataFrame:
    return pd.DataFrame([LOURDES | changes])


def test_int_columns_are_accepted_and_priced_like_floats(model: Any) -> None:
    ints = model.predict(_frame())
    floats = model.predict(_frame().astype({"square_foot": float, "rooms": float}))
    assert list(ints.columns) == list(OUTPUT_COLUMNS)
    assert ints["price"].iloc[0] == pytest.approx(floats["price"].iloc[0])
    row = ints.iloc[0]
    assert row["interval_low"] < row["price"] < row["interval_high"]
    assert row["interval_level"] == 0.8


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda f: f.astype({"neighborhood": "category"}), id="category"),
        pytest.param(lambda f: f.astype({"neighborhood": "string"}), id="string-dtype"),
        pytest.param(lambda f: f.astype({"rooms": "Int64", "square_foot": "Int32"}), id="Int64"),
        pytest.param(lambda f: f.astype({"rooms": "int8", "garage_places": "uint8"}), id="int8"),
        pytest.param(lambda f: f.astype({"adm_fees": "float32"}), id="float32"),
        pytest.param(lambda f: f.astype(str), id="numeric-strings"),
        pytest.param(lambda f: f.astype(object), id="object"),
        pytest.param(lambda f: f.assign(extra="ignored"), id="extra-column"),
    ],
)
def test_dtypes_people_pass_price_the_same(model: Any, convert: Any) -> None:
    expected = model.predict(_frame())["price"].iloc[0]
    got = model.predict(convert(_frame()))
    assert got["price"].iloc[0] == pytest.approx(expected, rel=1e-6)


# upper case, padding, an accent, lower case, a no-break space, full-width letters
FULL_WIDTH = "".join(chr(0xFF21 + ord(c) - ord("A")) for c in "LOURDES")


@pytest.mark.parametrize(
    "spelling", ["LOURDES", " lourdes ", "Lourdés", "lourdes", "Lourdes\u00a0", FULL_WIDTH]
)
def test_neighborhood_spellings_price_like_the_known_one(model: Any, spelling: str) -> None:
    expected = model.predict(_frame())["price"].iloc[0]
    assert model.predict(_frame(neighborhood=spelling))["price"].iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_coordinates_and_fees(model: Any, missing: Any) -> None:
    frame = pd.DataFrame(
        [LOURDES | {"latitude": missing, "longitude": missing}, LOURDES | {"adm_fees": missing}]
    )
    prices = model.predict(frame)["price"]
    assert (prices > 0).all()
    dropped = model.predict(_frame().drop(columns=["latitude", "longitude", "adm_fees"]))
    assert dropped["price"].iloc[0] == pytest.approx(
        model.predict(_frame(latitude=None, longitude=None, adm_fees=0))["price"].iloc[0]
    )


def test_several_rows_keep_their_order_and_index(model: Any, listings: pd.DataFrame) -> None:
    X, _ = split_features_target(listings.head(40))
    X.index = range(100, 140)
    out = model.predict(X)
    assert list(out.index) == list(X.index)
    assert (out["interval_low"] < out["price"]).all()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_frame().drop(columns=["rooms"]), "rooms"),
        (_frame(rooms="three"), "rooms: not a number"),
        (_frame(neighborhood=None), "neighborhood: missing"),
        (_frame(square_foot=[1, 2]), "square_foot"),
    ],
)
def test_bad_input_names_the_column(model: Any, frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(Exception, match=re.escape(message)):
        model.predict(frame)


def test_coerce_features_is_plain_pandas() -> None:
    features = coerce_features(_frame(rooms="3", latitude=None).astype({"neighborhood": "string"}))
    assert features.dtypes.to_dict() == {
        "neighborhood": np.dtype(object),
        **{c: np.dtype("float64") for c in list(features.columns)[1:]},
    }
    assert math.isnan(features["latitude"].iloc[0])
    with pytest.raises(FeatureError, match="expected a pandas DataFrame"):
        coerce_features([LOURDES])  # type: ignore[arg-type]


def test_estimator_and_interval_come_back_for_the_export(champion: Any, model: Any) -> None:
    _, estimator, interval = champion
    loaded, loaded_interval = load_pricing_model(CHAMPION_URI)
    assert loaded_interval == interval
    frame = _frame().astype({"square_foot": float, "rooms": float, "garage_places": float})
    assert loaded.predict(frame)[0] == pytest.approx(estimator.predict(frame)[0])
    # the pyfunc feeds the estimator the neighborhood's canonical form, which it trained on
    assert predicted_prices(model.predict(frame))[0] == pytest.approx(
        estimator.predict(_canonical(frame))[0]
    )


def test_readme_python_example_as_written(champion: Any) -> None:
    # given the README's snippet, run from a repository root after `make run`
    home, estimator, _ = champion
    readme = (REPO / "README.md").read_text()
    snippet = re.search(r"```python\n(import mlflow\n.*?)```", readme, re.DOTALL)
    assert snippet, "README has no pyfunc example"
    code = snippet.group(1)
    # when pasted into a fresh interpreter, with no MLflow variable set
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BH_PRICING_"))}
    script = code.rstrip() + "\n"
    last = script.rstrip().splitlines()
    assert last[-1].startswith(")  # ->"), "the snippet ends with the predict call"
    script = script.replace("model.predict(", "result = model.predict(", 1)
    script += "print(result.to_json(orient='records'))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=home, env=env, capture_output=True, text=True
    )
    # then it prints the price and its interval
    assert done.returncode == 0, done.stderr[-2000:]
    row = pd.read_json(__import__("io").StringIO(done.stdout.strip().splitlines()[-1])).iloc[0]
    expected = estimator.predict(_canonical(coerce_features(_frame())))[0]
    assert row["price"] == pytest.approx(expected, rel=1e-6)
    assert row["interval_low"] < row["price"] < row["interval_high"]


def test_readme_drift_example_as_written(champion: Any) -> None:
    # given the README's drift snippet, run from a repository root after `make run`, with
    # `reference` and `current` (frames with the clean columns) defined as it says
    home, _, _ = champion
    readme = (REPO / "README.md").read_text()
    pattern = r"```python\n(import mlflow\n\nfrom bh_pricing.io.model_logging .*?)```"
    snippet = re.search(pattern, readme, re.DOTALL)
    assert snippet, "README has no drift example"
    frames = (
        "from bh_pricing.core.cleaning import clean_listings\n"
        "from bh_pricing.core.sample import generate_raw_listings\n"
        "listings = clean_listings(generate_raw_listings(1200, seed=5)).clean\n"
        "reference, current = listings.iloc[:600], listings.iloc[600:]\n"
    )
    script = frames + snippet.group(1) + "print(report.verdict, len(report.to_frame()))\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BH_PRICING_"))}
    # when pasted into a fresh interpreter
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=home, env=env, capture_output=True, text=True
    )
    # then the champion's errors are tested too: 7 feature, 2 target and 2 performance tests
    assert done.returncode == 0, done.stderr[-2000:]
    verdict, tests = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert tests == "11", done.stdout
    assert verdict in {"drift", "no drift", "no drift (immaterial)"}, verdict
