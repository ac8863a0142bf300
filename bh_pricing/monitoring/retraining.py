"""Which held-out listings play which role in drift checks.

Retraining has no data of its own: it re-materializes ``train_listings`` / ``test_listings``
(``bh_pricing.core.recency``) and the assets downstream.
"""

from __future__ import annotations

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
