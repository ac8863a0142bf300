"""The training data as accepted market batches accumulate: who trains, who is held out, and how
much each row weighs.

Every listing appears once. Recent markets weigh more through sample weights, never through
repeated rows: a repeated row would sit at distance 0 from its copies and carry its own price into
the leave-one-out spatial price level and the comparables, and its copies would leak across CV
folds.

Weights decay exponentially with a batch's age, counted in batches landed after it (the newest
batch has age 0, the original clean listings the number of accepted batches):
``weight = 0.5 ** (age / half_life_batches)``. A half-life of 1 batch halves the weight of the
older market at every new batch. The default, 0.25, gives the market before the newest batch
1/16 of its weight: a batch of a few hundred listings whose drift was confirmed then outweighs the
thousands of older ones (at 0.5 the older market still carried about three quarters of the
weight, and a model retrained after a 35 % price rise did not beat the stale champion on the
batch's holdout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

BATCH_COLUMN = "batch"
WEIGHT_COLUMN = "sample_weight"
# The ``batch`` value of rows from ``clean_listings`` (the market the project started from).
BASE_BATCH = "clean_listings"


@dataclass(frozen=True)
class RecencyPolicy:
    """How landed batches join the training data.

    ``half_life_batches``: batches after which a market weighs half as much (> 0).
    ``holdout_share``: share of each batch held out for evaluation, in (0, 1).
    ``seed``: seeds the per-batch holdout draw.
    """

    half_life_batches: float = 0.25
    holdout_share: float = 0.5
    seed: int = 42

    def __post_init__(self) -> None:
        if not self.half_life_batches > 0:
            raise ValueError(f"half_life_batches must be > 0, got {self.half_life_batches}")
        if not 0 < self.holdout_share < 1:
            raise ValueError(f"holdout_share must be in (0, 1), got {self.holdout_share}")

    def weight(self, age: float) -> float:
        """Sample weight of a row whose market is ``age`` batches old (1.0 for the newest)."""
        if age < 0:
            raise ValueError(f"a batch age is >= 0, got {age}")
        return float(0.5 ** (age / self.half_life_batches))


@dataclass(frozen=True)
class TrainingData:
    """Training rows and held-out rows, each with ``batch`` and ``sample_weight`` columns, and
    one row per batch (``batch``, ``age``, ``weight``, ``train_rows``, ``holdout_rows``)."""

    train: pd.DataFrame
    test: pd.DataFrame
    batches: pd.DataFrame


def assemble_training_data(
    base_train: pd.DataFrame,
    base_test: pd.DataFrame,
    batches: Mapping[str, pd.DataFrame],
    policy: RecencyPolicy,
) -> TrainingData:
    """The original split plus every batch (oldest first, as ``batches`` iterates), weighted.

    Each batch is split at random (seeded by ``policy.seed`` and its position) into a training
    part and a held-out part of ``policy.holdout_share``; a batch too small to give both at
    least one row raises ValueError naming it.
    """
    ages = {name: len(batches) - 1 - i for i, name in enumerate(batches)}
    base_age = len(batches)
    trains = [_tag(base_train, BASE_BATCH, policy.weight(base_age))]
    tests = [_tag(base_test, BASE_BATCH, policy.weight(base_age))]
    rows = [_row(BASE_BATCH, base_age, policy, len(base_train), len(base_test))]
    for position, (name, frame) in enumerate(batches.items()):
        n_holdout = round(len(frame) * policy.holdout_share)
        if n_holdout < 1 or n_holdout >= len(frame):
            raise ValueError(
                f"batch {name!r} has {len(frame)} listing(s): too few to hold out "
                f"{policy.holdout_share:.0%} and train on the rest"
            )
        order = np.random.default_rng([policy.seed, position]).permutation(len(frame))
        holdout = frame.iloc[np.sort(order[:n_holdout])]
        train = frame.iloc[np.sort(order[n_holdout:])]
        weight = policy.weight(ages[name])
        trains.append(_tag(train, name, weight))
        tests.append(_tag(holdout, name, weight))
        rows.append(_row(name, ages[name], policy, len(train), len(holdout)))
    return TrainingData(
        pd.concat(trains, ignore_index=True),
        pd.concat(tests, ignore_index=True),
        pd.DataFrame(rows),
    )


def _tag(frame: pd.DataFrame, batch: str, weight: float) -> pd.DataFrame:
    return frame.assign(**{BATCH_COLUMN: batch, WEIGHT_COLUMN: weight}).reset_index(drop=True)


def _row(name: str, age: int, policy: RecencyPolicy, train: int, test: int) -> dict[str, object]:
    return {
        BATCH_COLUMN: name,
        "age": age,
        "weight": round(policy.weight(age), 6),
        "train_rows": train,
        "holdout_rows": test,
    }


def sample_weights(frame: pd.DataFrame) -> np.ndarray | None:
    """The ``sample_weight`` column as an array, or None for a frame without weights."""
    if WEIGHT_COLUMN not in frame.columns:
        return None
    return frame[WEIGHT_COLUMN].to_numpy(dtype=np.float64)
