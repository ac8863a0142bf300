"""Opt-in checks on the real Kaggle file (set BH_PRICING_KAGGLE_CSV to its path)."""

import os
from pathlib import Path

import pytest
from sklearn.model_selection import train_test_split

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.evaluation import regression_metrics
from bh_pricing.core.models import CANDIDATES, fit_candidate, split_features_target
from bh_pricing.io.raw_sources import read_raw_listings

KAGGLE_CSV = os.environ.get("BH_PRICING_KAGGLE_CSV", "")

pytestmark = [
    pytest.mark.kaggle,
    pytest.mark.skipif(not KAGGLE_CSV, reason="set BH_PRICING_KAGGLE_CSV to the real Kaggle CSV"),
]


@pytest.fixture(scope="module")
def cleaned():
    path = Path(KAGGLE_CSV)
    assert path.is_file(), f"BH_PRICING_KAGGLE_CSV={KAGGLE_CSV} does not exist"
    raw = read_raw_listings(str(path))
    return raw, clean_listings(raw.frame)


def test_every_real_row_is_accounted_for(cleaned):
    raw, result = cleaned
    assert len(raw.frame) == 5981, "the Kaggle file has 5,981 listings"
    assert len(result.clean) + len(result.quarantined) == len(raw.frame)
    assert len(result.clean) > 5000, f"only {len(result.clean)} clean rows"


def test_real_defects_are_recognised(cleaned):
    _, result = cleaned
    assert result.reasons["rooms: missing"] > 400, "'--' rooms are quarantined"
    assert result.reasons["price: missing"] == 30, "the file has 30 blank prices"
    assert result.coordinates_cleared > 0, "some geocodes fall outside Belo Horizonte"
    assert result.clean["square_foot"].between(10, 1000).all()


def test_implausible_real_fees_are_cleared(cleaned):
    _, result = cleaned
    fees = result.clean["adm_fees"]
    assert result.fees_cleared >= 300, "placeholder fees (0-20 BRL) and prices typed as fees"
    assert ((fees == 0) | fees.between(50, 20_000)).all(), "no implausible fee stays a feature"


def test_the_real_file_is_read_without_malformed_rows(cleaned):
    raw, _ = cleaned
    assert raw.malformed_rows == 0
    assert raw.encoding == "utf-8"


def test_boosting_beats_the_baseline_and_comparables_beat_boosting_on_real_data(cleaned):
    _, result = cleaned
    train, test = train_test_split(result.clean, test_size=0.2, random_state=42)
    X_test, y_test = split_features_target(test)
    scores = {
        name: regression_metrics(
            y_test, fit_candidate(CANDIDATES[name], train).estimator.predict(X_test)
        )
        for name in ("baseline", "gradient_boosting", "comparables")
    }
    assert scores["gradient_boosting"]["r2"] > scores["baseline"]["r2"] + 0.1, scores
    assert scores["gradient_boosting"]["mape"] < scores["baseline"]["mape"], scores
    # relisted flats: the comparables adjustment lowers the error on both measures
    assert scores["comparables"]["mape"] < scores["gradient_boosting"]["mape"] - 0.005, scores
    assert scores["comparables"]["r2"] > scores["gradient_boosting"]["r2"], scores
