"""Detection rate of ``detect_drift`` by price shift and batch size.

The clean listings are split once: a candidate (default ``comparables``, the champion on the
real file) is trained on one half, and the other half is held out. Each trial splits the
held-out half at random into a current batch and the reference (the rest), raises the batch's
prices by the shift, and runs ``detect_drift`` with the model. A shift of 5 % multiplies every
price by 1.05; the last row uses ``shift_prices``'s default, a factor drawn per row from
[1.10, 1.20]. The 0 % row is the false-alarm rate.

The large-n section checks that drift means a change worth acting on: reference and batch are
both ``n`` listings (100 k, 400 k) drawn with replacement from the held-out half and jittered
(coordinates by about 5 m, area by 2 %, fees by 5 %, price by 5 %, each draw independently), the
batch's prices raised by the shift. At that size a 0.5 % change is significant; it must end as
"no drift (immaterial)", while a 3 % or 5 % change is drift. Each cell gives the share of
trials per verdict: drift / no drift (immaterial) / no drift.

    python benchmarks/drift_power.py [--raw data.csv] [--trials 200] [--candidate comparables]
        [--large-sizes 100000 400000] [--large-trials 10]
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
from bh_pricing.monitoring import (
    DEFAULT_ALPHA,
    DRIFT,
    IMMATERIAL,
    NO_DRIFT,
    DriftThresholds,
    detect_drift,
)

SHIFTS = (0.0, 0.025, 0.05, 0.10, 0.15, 0.20)
DEFAULT_BAND = (0.10, 0.20)
BATCH_SIZES = (100, 250, 500, 1000)
LARGE_SIZES = (100_000, 400_000)
LARGE_SHIFTS = (0.0, 0.005, 0.01, 0.03, 0.05)
VERDICTS = (DRIFT, IMMATERIAL, NO_DRIFT)
METRES_PER_DEGREE = 111_320.0


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


def held_out_model(
    clean: pd.DataFrame, seed: int, candidate: str
) -> tuple[pd.DataFrame, PrecomputedModel]:
    """The held-out half of the listings and ``candidate``'s predictions, trained on the other."""
    order = np.random.default_rng(seed).permutation(len(clean))
    train, held_out = clean.iloc[order[: len(clean) // 2]], clean.iloc[order[len(clean) // 2 :]]
    model = fit_candidate(CANDIDATES[candidate], train).estimator
    predictions = pd.Series(
        model.predict(held_out.loc[:, list(FEATURE_COLUMNS)]), index=held_out.index
    )
    return held_out, PrecomputedModel(predictions)


def detection_rates(
    held_out: pd.DataFrame,
    model: PrecomputedModel,
    trials: int,
    seed: int,
    batch_sizes: tuple[int, ...],
    workers: int = 2,
) -> pd.DataFrame:
    """Share of trials flagging drift, one row per shift, one column per batch size."""
    largest = max(batch_sizes)
    if len(held_out) - largest < 2 * largest // 3:
        raise ValueError(f"{len(held_out)} held-out rows are too few for batches of {largest}")
    bands = [*((s, s) for s in SHIFTS), DEFAULT_BAND]
    run = partial(_hits, held_out, model, bands, trials, seed)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        hits = np.column_stack(list(pool.map(run, batch_sizes)))
    labels = [f"{s:.1%}" for s in SHIFTS] + [f"{DEFAULT_BAND[0]:.0%}-{DEFAULT_BAND[1]:.0%}"]
    return pd.DataFrame(
        100 * hits / trials,
        index=pd.Index(labels, name="price shift"),
        columns=[f"n={n}" for n in batch_sizes],
    )


def resampled(held_out: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` listings drawn with replacement and jittered; index labels kept (predictions)."""
    frame = held_out.iloc[rng.integers(0, len(held_out), rows)]
    metres = rng.normal(0, 5.0, (rows, 2)) / METRES_PER_DEGREE
    return frame.assign(
        latitude=frame["latitude"].to_numpy() + metres[:, 0],
        longitude=frame["longitude"].to_numpy() + metres[:, 1],
        square_foot=frame["square_foot"].to_numpy() * np.exp(rng.normal(0, 0.02, rows)),
        adm_fees=frame["adm_fees"].to_numpy() * np.exp(rng.normal(0, 0.05, rows)),
        price=frame["price"].to_numpy() * np.exp(rng.normal(0, 0.05, rows)),
    )


def _verdicts(
    held_out: pd.DataFrame, model: PrecomputedModel, trials: int, seed: int, size: int
) -> np.ndarray:
    """``[shift, verdict]`` counts over ``trials`` pairs of ``size``-row reference and batch."""
    counts = np.zeros((len(LARGE_SHIFTS), len(VERDICTS)), dtype=int)
    thresholds = DriftThresholds()
    for trial in range(trials):
        rng = np.random.default_rng([seed, size, trial])
        reference, current = resampled(held_out, size, rng), resampled(held_out, size, rng)
        for i, shift in enumerate(LARGE_SHIFTS):
            batch = current.assign(price=current["price"] * (1 + shift))
            verdict = detect_drift(reference, batch, model, thresholds=thresholds).verdict
            counts[i, VERDICTS.index(verdict)] += 1
    return counts


def large_n_verdicts(
    held_out: pd.DataFrame,
    model: PrecomputedModel,
    trials: int,
    seed: int,
    sizes: tuple[int, ...],
    workers: int = 2,
) -> pd.DataFrame:
    """Per shift and size, the % of trials ending drift / immaterial / no drift."""
    run = partial(_verdicts, held_out, model, trials, seed)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(run, sizes))
    cells = {
        f"n={n:,}": [" / ".join(f"{100 * c / trials:.0f}" for c in row) for row in per_size]
        for n, per_size in zip(sizes, counts, strict=True)
    }
    return pd.DataFrame(cells, index=pd.Index([f"{s:+.1%}" for s in LARGE_SHIFTS], name="shift"))


def main() -> None:
    """Parse arguments, run the trials, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="Kaggle-format CSV (default: sample generator)")
    parser.add_argument("--trials", type=int, default=200, help="seeded trials per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--workers", type=int, default=2, help="processes (one batch size each)")
    parser.add_argument("--candidate", choices=sorted(CANDIDATES), default="comparables")
    parser.add_argument("--large-sizes", type=int, nargs="*", default=list(LARGE_SIZES))
    parser.add_argument("--large-trials", type=int, default=10, help="trials per large-n cell")
    args = parser.parse_args()
    started = time.perf_counter()
    clean = load_clean(args.raw, args.seed)
    held_out, model = held_out_model(clean, args.seed, args.candidate)
    table = detection_rates(
        held_out, model, args.trials, args.seed, tuple(args.batch_sizes), args.workers
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
    if args.large_sizes:
        large = large_n_verdicts(
            held_out, model, args.large_trials, args.seed, tuple(args.large_sizes), args.workers
        )
        minimum = DriftThresholds()
        print()
        print(
            f"Large n: % of {args.large_trials} trials ending drift / no drift (immaterial) / "
            f"no drift; reference and batch of n resampled, jittered rows; minimum price "
            f"change {minimum.price_change:.0%}, feature distance {minimum.feature_distance:g}, "
            f"neighborhood distance {minimum.neighborhood_distance:g} "
            "(target: +0.5 % and +1 % immaterial, +3 % and +5 % drift, 0 % never drift)"
        )
        print(large.to_markdown())
    print(f"({time.perf_counter() - started:.0f} s)")


def _share_with_ci(count: int, total: int) -> str:
    ci = stats.binomtest(int(count), total).proportion_ci(confidence_level=0.95)
    return f"{count}/{total} = {count / total:.1%} ({ci.low:.1%}-{ci.high:.1%})"


if __name__ == "__main__":
    main()
