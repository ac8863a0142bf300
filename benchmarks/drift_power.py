"""Detection rate of ``detect_drift`` by price shift and batch size.

The clean listings are split once: a candidate (default ``comparables``, the champion on the
real file) is trained on one half, and the other half is held out. Each trial splits the
held-out half at random into a current batch and the reference (the rest), raises the batch's
prices by the shift, and runs ``detect_drift`` with the model. A shift of 5 % multiplies every
price by 1.05; the last row uses ``shift_prices``'s default, a factor drawn per row from
[1.10, 1.20]. The 0 % row is the false-alarm rate.

    python benchmarks/drift_power.py [--raw data.csv] [--trials 200] [--candidate comparables]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.models import CANDIDATES, fit_candidate
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.core.shift import shift_prices
from bh_pricing.monitoring import DEFAULT_ALPHA, detect_drift

SHIFTS = (0.0, 0.025, 0.05, 0.10, 0.15, 0.20)
DEFAULT_BAND = (0.10, 0.20)
BATCH_SIZES = (100, 250, 500, 1000)


class PrecomputedModel:
    """Returns predictions computed once for the held-out rows, looked up by index."""

    def __init__(self, predictions: pd.Series) -> None:
        self.predictions = predictions

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predictions of the rows of ``X`` (by index label)."""
        return self.predictions.loc[X.index].to_numpy()


def load_clean(raw_csv: Path | None, seed: int) -> pd.DataFrame:
    """Clean listings from the Kaggle-format CSV, or from the sample generator."""
    if raw_csv is None:
        raw = generate_raw_listings(5981, seed)
    else:
        raw = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    return clean_listings(raw).clean


def _hits(
    held_out: pd.DataFrame,
    model: PrecomputedModel,
    bands: list[tuple[float, float]],
    trials: int,
    seed: int,
    size: int,
) -> np.ndarray:
    """Number of trials flagging drift per band, for batches of ``size`` rows."""
    hits = np.zeros(len(bands))
    for trial in range(trials):
        pick = np.random.default_rng([seed, size, trial]).permutation(len(held_out))
        current, reference = held_out.iloc[pick[:size]], held_out.iloc[pick[size:]]
        for i, (low, high) in enumerate(bands):
            batch = shift_prices(current, low=low, high=high, seed=trial).frame
            hits[i] += detect_drift(reference, batch, model).drift_detected
    return hits


def detection_rates(
    clean: pd.DataFrame,
    trials: int,
    seed: int,
    batch_sizes: tuple[int, ...],
    workers: int = 2,
    candidate: str = "comparables",
) -> pd.DataFrame:
    """Share of trials flagging drift, one row per shift, one column per batch size."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clean))
    train, held_out = clean.iloc[order[: len(clean) // 2]], clean.iloc[order[len(clean) // 2 :]]
    largest = max(batch_sizes)
    if len(held_out) - largest < 2 * largest // 3:
        raise ValueError(f"{len(held_out)} held-out rows are too few for batches of {largest}")
    model = fit_candidate(CANDIDATES[candidate], train).estimator
    predictions = pd.Series(
        model.predict(held_out.loc[:, list(FEATURE_COLUMNS)]), index=held_out.index
    )
    bands = [*((s, s) for s in SHIFTS), DEFAULT_BAND]
    run = partial(_hits, held_out, PrecomputedModel(predictions), bands, trials, seed)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        hits = np.column_stack(list(pool.map(run, batch_sizes)))
    labels = [f"{s:.1%}" for s in SHIFTS] + [f"{DEFAULT_BAND[0]:.0%}-{DEFAULT_BAND[1]:.0%}"]
    return pd.DataFrame(
        100 * hits / trials,
        index=pd.Index(labels, name="price shift"),
        columns=[f"n={n}" for n in batch_sizes],
    )


def main() -> None:
    """Parse arguments, run the trials, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="Kaggle-format CSV (default: sample generator)")
    parser.add_argument("--trials", type=int, default=200, help="seeded trials per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--workers", type=int, default=2, help="processes (one batch size each)")
    parser.add_argument("--candidate", choices=sorted(CANDIDATES), default="comparables")
    args = parser.parse_args()
    started = time.perf_counter()
    clean = load_clean(args.raw, args.seed)
    table = detection_rates(
        clean, args.trials, args.seed, tuple(args.batch_sizes), args.workers, args.candidate
    )
    source = args.raw or "sample generator"
    print(f"Drift detection rate (%), {args.trials} trials per cell, data: {source}")
    print(f"{len(clean)} clean listings: model trained on half, batches drawn from the other half")
    print(table.to_markdown(floatfmt=".1f"))
    alarms = (table.iloc[0] * args.trials / 100).round().astype(int)
    print(
        f"false alarms at 0 % (95 % Clopper-Pearson CI; alpha = {DEFAULT_ALPHA:.0%} bounds "
        "the rate; the target is <= 5 %):"
    )
    for label, count in alarms.items():
        print(f"  {label}: {_share_with_ci(count, args.trials)}")
    if len(alarms) > 1:
        print(f"  all batch sizes: {_share_with_ci(alarms.sum(), args.trials * len(alarms))}")
    print(f"({time.perf_counter() - started:.0f} s)")


def _share_with_ci(count: int, total: int) -> str:
    ci = stats.binomtest(int(count), total).proportion_ci(confidence_level=0.95)
    return f"{count}/{total} = {count / total:.1%} ({ci.low:.1%}-{ci.high:.1%})"


if __name__ == "__main__":
    main()
