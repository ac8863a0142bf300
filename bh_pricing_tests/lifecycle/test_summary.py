"""The lines ``make run`` ends with, read from a real SQLite MLflow store and a bundle root."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing.io import registry
from bh_pricing.lifecycle.summary import summary_lines
from bh_pricing.serving.manifest import CURRENT_FILE, CurrentPointer


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(uri, uri)


def register(client: MlflowClient, metrics: dict[str, float], tags: dict[str, str]) -> str:
    """A version whose run holds ``metrics``, registered with ``tags``; its number."""
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    return str(registry.register(client, f"runs:/{run.info.run_id}/model", tags).version)


def test_before_the_first_run_it_says_there_is_no_champion(client, tmp_path) -> None:
    assert summary_lines(client, str(tmp_path / "bundles")) == [
        f"{REGISTERED_MODEL_NAME}: no {CHAMPION_ALIAS} yet"
    ]


def test_champion_scores_holdout_metrics_challenger_and_bundle(client, tmp_path) -> None:
    # given a champion, a challenger and a published bundle
    champion = register(
        client,
        {"test_rmse": 259161.4, "test_mae": 131007.9, "test_mape": 0.1923, "test_r2": 0.8703},
        {
            "candidate": "comparables",
            "trigger": "retrain lote.csv@3f9a1c2b7d4e",
            "candidate_score": "259161.4",
            "champion_score": "301002.2",
            "decision_reason": "rmse 2.592e+05 vs champion 3.010e+05",
        },
    )
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, champion)
    challenger = register(client, {}, {"decision_reason": "not significant (p = 0.31)"})
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS, challenger)
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    pointer = CurrentPointer(
        bundle="v1-20261130T091105Z-072de01e",
        manifest_sha256="0" * 64,
        model_version=champion,
        published_at="2026-11-30T09:11:05+00:00",
    )
    (bundles / CURRENT_FILE).write_text(pointer.model_dump_json())
    # when summarized
    lines = summary_lines(client, str(bundles))
    # then each part has its line, in units
    assert lines == [
        f"champion: bh-pricing v{champion} (comparables, retrain lote.csv@3f9a1c2b7d4e)",
        "  score 259161.4 vs previous champion 301002.2: rmse 2.592e+05 vs champion 3.010e+05",
        "  test_listings: RMSE 259,161 BRL, MAE 131,008 BRL, MAPE 19.2%, R² 0.870",
        f"challenger: v{challenger}: not significant (p = 0.31)",
        f"bundle: v{champion} at {bundles}/v1-20261130T091105Z-072de01e "
        "(published 2026-11-30T09:11:05+00:00)",
    ], lines
