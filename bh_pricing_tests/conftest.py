"""Fixtures shared by the whole suite: an isolated BH_PRICING_HOME and small raw frames."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from bh_pricing.constants import RAW_COLUMNS


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
