"""Held-out and cross-validated quality of every candidate, and the champion against its targets.

The clean listings are split exactly like ``train_listings`` / ``test_listings`` (20 % held out,
seed 42). Each candidate is fitted on the training rows with ``fit_candidate`` (its search, if it
has one, sees only those rows) and scored on the held-out rows; the CV columns are the 5-fold
``cross_validated_metrics`` on the training rows, as the candidate assets log them. The champion
is the candidate with the lowest held-out RMSE, as ``champion_model`` picks it.

    python benchmarks/model_quality.py [--raw data.csv] [--folds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.evaluation import cross_validated_metrics, regression_metrics
from bh_pricing.core.models import CANDIDATES, fit_candidate, split_features_target
from bh_pricing.core.sample import generate_raw_listings

TEST_SIZE = 0.2
SEED = 42
TARGET_R2 = 0.87
TARGET_MAPE = 0.175


def load_clean(raw_csv: Path | None) -> pd.DataFrame:
    """Clean listings from the Kaggle-format CSV, or from the sample generator."""
    if raw_csv is None:
        raw = generate_raw_listings()
    else:
        raw = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    return clean_listings(raw).clean


def split(clean: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows, as the ``train_test`` asset splits them."""
    train, test = train_test_split(clean, test_size=TEST_SIZE, random_state=SEED)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def evaluate(
    train: pd.DataFrame, test: pd.DataFrame, folds: int, threads: int | None
) -> pd.DataFrame:
    """One row per candidate: held-out metrics, CV mean and std, chosen params, wall/CPU seconds."""
    X_train, y_train = split_features_target(train)
    X_test, y_test = split_features_target(test)
    rows = []
    for name, spec in CANDIDATES.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        with threadpool_limits(limits=threads):
            fitted = fit_candidate(spec, train, folds=folds, seed=SEED)
            fit_seconds = time.perf_counter() - start
            cv = cross_validated_metrics(fitted.estimator, X_train, y_train, folds, SEED)
        held_out = regression_metrics(y_test, fitted.estimator.predict(X_test))
        params = ", ".join(f"{k}={_short(v)}" for k, v in fitted.params.items())
        rows.append(
            {
                "model": name,
                **held_out,
                **cv,
                "params": params,
                "fit_s": fit_seconds,
                "total_s": time.perf_counter() - start,
                "cpu_s": time.process_time() - cpu_start,
            }
        )
        print(
            f"  {name}: RMSE {held_out['rmse']:,.0f}, R² {held_out['r2']:.4f}, "
            f"MAPE {held_out['mape']:.4f} ({rows[-1]['total_s']:.1f} s)",
            flush=True,
        )
    return pd.DataFrame(rows).set_index("model")


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def quality_table(results: pd.DataFrame) -> pd.DataFrame:
    """Printable table: held-out metrics, then CV mean ± std; champion row appended."""
    champion = results["rmse"].idxmin()
    table = pd.DataFrame(index=results.index)
    table["RMSE"] = results["rmse"].map("{:,.0f}".format)
    table["MAE"] = results["mae"].map("{:,.0f}".format)
    table["MAPE"] = results["mape"].map("{:.4f}".format)
    table["R²"] = results["r2"].map("{:.4f}".format)
    for metric, fmt in (("rmse", "{:,.0f}"), ("mape", "{:.4f}"), ("r2", "{:.4f}")):
        mean, std = results[f"cv_{metric}"], results[f"cv_{metric}_std"]
        label = {"rmse": "CV RMSE", "mape": "CV MAPE", "r2": "CV R²"}[metric]
        table[label] = [
            f"{fmt.format(m)} ± {fmt.format(s)}" for m, s in zip(mean, std, strict=True)
        ]
    table["fit+CV s"] = results["total_s"].map("{:.1f}".format)
    table["CPU s"] = results["cpu_s"].map("{:.1f}".format)
    table.loc[f"champion ({champion})"] = table.loc[champion]
    return table


def main() -> None:
    """Parse arguments, evaluate every candidate, print the table and the champion's verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="Kaggle-format CSV (default: sample generator)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP threads (assets use 1); 0 = all"
    )
    args = parser.parse_args()

    clean = load_clean(args.raw)
    train, test = split(clean)
    source = args.raw or "sample generator"
    print(f"{source}: {len(clean)} clean listings, {len(train)} train / {len(test)} test")
    results = evaluate(train, test, args.folds, args.threads or None)
    print()
    print(quality_table(results).to_markdown())
    print()
    print("Chosen parameters:")
    for name, params in results["params"].items():
        print(f"  {name}: {params or '(defaults)'}")

    champion = results["rmse"].idxmin()
    r2, mape = results.loc[champion, "r2"], results.loc[champion, "mape"]
    checks = (
        (f"R² >= {TARGET_R2}", r2, r2 >= TARGET_R2),
        (f"MAPE <= {TARGET_MAPE}", mape, mape <= TARGET_MAPE),
    )
    print()
    print(f"Champion: {champion} (lowest held-out RMSE)")
    for label, value, passed in checks:
        print(f"  {label:<14} held-out {value:.4f}  {'PASS' if passed else 'FAIL'}")
    print(f"Overall: {'PASS' if all(p for *_, p in checks) else 'FAIL'}")


if __name__ == "__main__":
    main()
