"""Fixtures shared by the whole suite: an isolated BH_PRICING_HOME and small raw frames; how
``make test`` spreads the suite over pytest-xdist workers."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from xdist.scheduler import LoadScopeScheduling

from bh_pricing.constants import RAW_COLUMNS

TOPOLOGY = Path(__file__).parent / "topology"
TOPOLOGY_ID = "bh_pricing_tests/topology"

if "PYTEST_XDIST_WORKER" in os.environ:
    # One worker per core: native thread pools sized to the machine (OpenMP in scikit-learn's
    # boosting, BLAS) would put several threads on each core and spin against each other. Set
    # before anything imports them; processes the tests start inherit it.
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The topology tests first (see ``pytest_xdist_make_scheduler``); serial runs too."""
    items.sort(key=lambda item: not item.path.is_relative_to(TOPOLOGY))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
    """Units of work for ``make test`` (``-n auto --dist loadscope --no-loadscope-reorder``).

    Each test module is one unit, so its module-scoped fixtures and the order of its tests hold;
    the topology tests are one unit, first: they share the session's stack, and each stack keeps
    a core busy. A worker takes another unit only when it has at most two tests left, so the
    other workers run the rest of the suite meanwhile. (pytest-xdist's own ``loadgroup`` cannot
    do this here: it marks groups on a node attribute pytest 9.2 no longer reads.)
    """
    return _ModuleUnits(config, log)


class _ModuleUnits(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return "topology" if module.startswith(f"{TOPOLOGY_ID}/") else module


@pytest.fixture
def bh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh BH_PRICING_HOME in local mode, with no MLflow or raw-source overrides."""
    home = tmp_path / "bh_home"
    monkeypatch.setenv("BH_PRICING_HOME", str(home))
    monkeypatch.setenv("BH_PRICING_ENV", "local")
    for name in ("MLFLOW_TRACKING_URI", "BH_PRICING_RAW_URI", "BH_PRICING_LANDING_URI"):
        monkeypatch.delenv(name, raising=False)
    return home


def raw_frame(*rows: dict[str, str]) -> pd.DataFrame:
    """A raw Kaggle-format frame; unspecified fields take a valid default."""
    default = {
        "address": "Rua da Bahia, 100 ",
        "adm-fees": "500.0",
        "garage-places": "1",
        "price": "500000.0",
        "rooms": "2",
        "square-foot": "70",
        "neighborhood": " Centro",
        "city": " Belo Horizonte ",
        "latitude": "-19.92",
        "longitude": "-43.94",
    }
    return pd.DataFrame([{**default, **row} for row in rows], columns=list(RAW_COLUMNS))
