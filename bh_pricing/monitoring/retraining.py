"""Data for drift checks and for retraining after drift: which listings play which role."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def split_holdout(test: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split held-out listings in two halves: the drift reference and a pool for simulations.

    Synthetic shifted batches are drawn from the pool only, so a batch never repeats a listing
    of the reference it is compared with.
    """
    if len(test) < 2:
        raise ValueError(f"need at least 2 held-out listings to split, got {len(test)}")
    order = np.random.default_rng(seed).permutation(len(test))
    half = len(test) // 2
    return test.iloc[np.sort(order[:half])], test.iloc[np.sort(order[half:])]


@dataclass(frozen=True)
class RetrainingData:
    """Training set (old listings + the batch's training part, repeated) and the batch holdout."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    new_rows: int
    copies: int


def retraining_data(
    old: pd.DataFrame,
    batch: pd.DataFrame,
    holdout_share: float = 0.5,
    new_weight: float = 0.5,
    seed: int = 0,
    min_holdout: int = 10,
) -> RetrainingData:
    """Split ``batch`` into a training part and a holdout; add the training part to ``old``.

    The new rows are repeated so they carry about ``new_weight`` of the training set: a few
    hundred listings from the new market would otherwise barely move a model fitted on thousands
    of older ones. The holdout, never repeated nor trained on, scores candidates and champion.
    """
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {holdout_share}")
    if not 0 < new_weight < 1:
        raise ValueError(f"new_weight must be in (0, 1), got {new_weight}")
    order = np.random.default_rng(seed).permutation(len(batch))
    n_holdout = round(len(batch) * holdout_share)
    holdout, new = batch.iloc[order[:n_holdout]], batch.iloc[order[n_holdout:]]
    if len(holdout) < min_holdout or new.empty:
        raise ValueError(
            f"a batch of {len(batch)} listings is too small to retrain on: it leaves "
            f"{len(new)} to train and {len(holdout)} to score (need {min_holdout})"
        )
    copies = max(1, round(new_weight / (1 - new_weight) * len(old) / len(new)))
    train = pd.concat([old, *[new] * copies], ignore_index=True)
    return RetrainingData(train, holdout.reset_index(drop=True), len(new), copies)
