"""Detect drift between reference listings and a new batch.

Three kinds of test, all from ``scipy.stats``:

- feature: two-sample Kolmogorov-Smirnov per numeric feature; chi-square on the neighborhood
  contingency table, with rare neighborhoods pooled into one bin;
- target: Kolmogorov-Smirnov on price and on price per m²;
- performance (with a model): Mann-Whitney U on the log ratio price / prediction (the model's
  bias) and, one-sided, on the absolute percentage error (does the model get worse).

Each test also measures the size of the change (``bh_pricing.monitoring.materiality``):
Wasserstein distance / reference std for a numeric feature, Jensen-Shannon distance for the
neighborhood mix, the relative change of the price level (geometric mean price, the model's
median log(price / prediction)) and the rise of the median absolute percentage error. A test
flags drift only when it is significant *and* its effect reaches the minimum in
``DriftThresholds`` (defaults: 0.1, 0.1, 2 %, 2 points); a significant smaller change is
reported as "no drift (immaterial)", so a large batch cannot retrain the model over a change
nobody would act on.

The tests are corrected together with Holm's weighted step-down procedure, so the chance of any
false alarm on an unchanged market is at most ``alpha`` (the materiality rule only removes
alarms). The default, 3 %, keeps the false-alarm
rate under the product's 5 % budget with room for what the asymptotic tests do not quite hold
(a procedure run at 5 % shows more than 5 % in a 200-trial benchmark cell about a quarter of
the time); detection of a 5 % price rise in a 500-row batch stays above 95 %. The default
weights give half of the budget to the model's bias: a market whose prices moved is what makes
the model wrong, and a batch's features can drift without the model being wrong.

That bound needs every p-value to be valid at the small levels Holm uses: a feature test is first
held to ``alpha * 0.2 / 7`` (0.0014 at 5 %). There the chi-square approximation is too optimistic
for the neighborhood table of a small batch (on the Belo Horizonte listings, 1.6 times too many
p-values below 0.0014 for batches of 100, 1.3 times for 250). So a neighborhood p-value below
``alpha`` is recomputed by Monte Carlo from tables drawn with the observed margins, the exact
null distribution when batch and reference come from the same market (``resamples`` tables, a
fixed ``seed``: the same data always gets the same report).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final, Protocol

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import association

from bh_pricing.constants import FEATURE_COLUMNS, NUMERIC_FEATURES, TARGET_COLUMN
from bh_pricing.monitoring.materiality import (
    DriftThresholds,
    jensen_shannon,
    log_level_change,
    normed_wasserstein,
)
from bh_pricing.monitoring.report import (
    DRIFT,
    IMMATERIAL,
    INSUFFICIENT,
    NO_DRIFT,
    DriftKind,
    DriftReport,
    DriftTest,
    weighted_holm,
)

REQUIRED_COLUMNS: Final = (*FEATURE_COLUMNS, TARGET_COLUMN)
OTHER_NEIGHBORHOODS: Final = "(other)"
PRICE_PER_M2: Final = "price_per_m2"
RESIDUAL_BIAS: Final = "residual_bias"
ERROR_GROWTH: Final = "abs_pct_error"
_FEATURE_SHARE: Final = 0.2 / len(FEATURE_COLUMNS)
DEFAULT_ALPHA: Final = 0.03
_RESAMPLING_BATCH: Final = 10_000  # random tables held in memory at once
DEFAULT_WEIGHTS: Final[Mapping[str, float]] = {
    RESIDUAL_BIAS: 0.5,
    ERROR_GROWTH: 0.1,
    TARGET_COLUMN: 0.1,
    PRICE_PER_M2: 0.1,
    **dict.fromkeys(FEATURE_COLUMNS, _FEATURE_SHARE),
}


class PriceModel(Protocol):
    """Anything that prices listings: ``predict(features)`` returns one BRL price per listing
    (a 1-D array). A loaded ``bh-pricing`` pyfunc returns a frame (price and interval): wrap it
    in ``bh_pricing.io.model_logging.PriceOnly``."""

    def predict(self, X: pd.DataFrame) -> np.ndarray: ...


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model: PriceModel | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_rows: int = 30,
    weights: Mapping[str, float] | None = None,
    min_expected: float = 5.0,
    resamples: int = 99_999,
    seed: int = 0,
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference``; with a ``model``, compare its errors too.

    ``reference`` must be data the model was not trained on (its held-out test set), or the
    model's errors on it look better than they are. A ``current`` batch with fewer than
    ``min_rows`` rows gets the verdict "insufficient data"; a smaller reference is an error.
    ``resamples`` random tables, drawn with ``seed``, give the neighborhood test's Monte Carlo
    p-value; with the default, its rate below 0.0014 on an unchanged market is within about 8 %
    of 0.0014 (the Monte Carlo error of one seed). ``thresholds`` (default ``DriftThresholds()``)
    are the smallest effects that count as drift.
    """
    too_small = _screen(reference, current, REQUIRED_COLUMNS, alpha, min_rows, resamples)
    if too_small is not None:
        return too_small
    minimum = thresholds or DriftThresholds()
    tests = _feature_tests(
        reference, current, alpha, min_rows, min_expected, resamples, seed, minimum
    )
    price = (reference[TARGET_COLUMN], current[TARGET_COLUMN])
    tests.append(_ks(*price, TARGET_COLUMN, "target", min_rows, minimum.price_change))
    per_m2 = (_per_m2(reference), _per_m2(current))
    tests.append(_ks(*per_m2, PRICE_PER_M2, "target", min_rows, minimum.price_change))
    if model is not None:
        ratios = (log_ratio(reference, model), log_ratio(current, model))
        tests += _performance(*ratios, minimum)
    return _correct(tests, alpha, dict(weights or DEFAULT_WEIGHTS), len(reference), len(current))


def detect_input_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    alpha: float = DEFAULT_ALPHA,
    min_rows: int = 30,
    min_expected: float = 5.0,
    resamples: int = 99_999,
    seed: int = 0,
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Feature tests only (no price, no model): for requests, whose price nobody knows yet.

    The same Kolmogorov-Smirnov and neighborhood tests, effects and minimums as ``detect_drift``,
    corrected together with the feature weights of ``DEFAULT_WEIGHTS`` (equal, so the whole
    ``alpha`` is shared by the seven feature tests). ``current`` needs the feature columns only;
    fewer than ``min_rows`` rows give "insufficient data", a smaller reference is an error.
    """
    too_small = _screen(reference, current, FEATURE_COLUMNS, alpha, min_rows, resamples)
    if too_small is not None:
        return too_small
    minimum = thresholds or DriftThresholds()
    tests = _feature_tests(
        reference, current, alpha, min_rows, min_expected, resamples, seed, minimum
    )
    return _correct(tests, alpha, dict(DEFAULT_WEIGHTS), len(reference), len(current))


def _screen(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    required: tuple[str, ...],
    alpha: float,
    min_rows: int,
    resamples: int,
) -> DriftReport | None:
    """Check both frames and the settings (``ValueError`` naming what is wrong, also a reference
    under ``min_rows``); the "insufficient data" report when ``current`` is under ``min_rows``,
    else ``None``."""
    _check_frame(reference, "reference", required)
    _check_frame(current, "current", required)
    _check_settings(alpha, min_rows, resamples)
    if len(reference) < min_rows:
        raise ValueError(f"reference has {len(reference)} rows; at least {min_rows} are needed")
    if len(current) >= min_rows:
        return None
    reason = f"current batch has {len(current)} rows; at least {min_rows} are needed"
    return DriftReport((), alpha, len(reference), len(current), INSUFFICIENT, reason)


def _check_settings(alpha: float, min_rows: int, resamples: int) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if min_rows < 2:
        raise ValueError(f"min_rows must be at least 2, got {min_rows}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")


def _feature_tests(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    alpha: float,
    min_rows: int,
    min_expected: float,
    resamples: int,
    seed: int,
    minimum: DriftThresholds,
) -> list[DriftTest]:
    """Kolmogorov-Smirnov per numeric feature, then the neighborhood test."""
    tests = [
        _ks(reference[c], current[c], c, "feature", min_rows, minimum.feature_distance)
        for c in NUMERIC_FEATURES
    ]
    resampling = stats.MonteCarloMethod(
        n_resamples=resamples, batch=_RESAMPLING_BATCH, rng=np.random.default_rng(seed)
    )
    tests.append(
        _neighborhoods(
            reference, current, min_expected, alpha, resampling, minimum.neighborhood_distance
        )
    )
    return tests


def _check_frame(
    frame: pd.DataFrame, role: str, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{role} listings are missing column(s) {missing}")
    numeric = [c for c in (*NUMERIC_FEATURES, TARGET_COLUMN) if c in required]
    not_numeric = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c])]
    if not_numeric:
        raise ValueError(f"{role} listings have non-numeric column(s) {not_numeric}")


def _insufficient(name: str, kind: DriftKind, method: str, n_ref: int, n_cur: int) -> DriftTest:
    nan = float("nan")
    return DriftTest(name, kind, method, nan, nan, nan, "", n_ref, n_cur, verdict=INSUFFICIENT)


def _ks(
    reference: pd.Series,
    current: pd.Series,
    name: str,
    kind: DriftKind,
    min_rows: int,
    min_effect: float,
) -> DriftTest:
    """Kolmogorov-Smirnov on the non-missing values.

    Effect: for a feature, Wasserstein distance / reference std; for a price (kind "target",
    positive values), the relative change of the geometric mean.
    """
    ref, cur = reference.dropna().to_numpy(float), current.dropna().to_numpy(float)
    if min(len(ref), len(cur)) < min_rows:
        return _insufficient(name, kind, "Kolmogorov-Smirnov", len(ref), len(cur))
    result = stats.ks_2samp(ref, cur)
    if kind == "target":
        effect, label = log_level_change(ref, cur), "price level change (relative)"
    else:
        effect, label = normed_wasserstein(ref, cur), "Wasserstein / reference std"
    return DriftTest(
        name,
        kind,
        "Kolmogorov-Smirnov",
        float(result.statistic),
        float(result.pvalue),
        effect,
        label,
        len(ref),
        len(cur),
        min_effect=min_effect,
        material=_reaches(effect, min_effect),
        details={
            "reference_median": float(np.median(ref)),
            "current_median": float(np.median(cur)),
        },
    )


def _reaches(effect: float, min_effect: float, two_sided: bool = True) -> bool:
    """Whether an effect is material: ``|effect|`` (or ``effect``, one-sided) >= the minimum."""
    return bool((abs(effect) if two_sided else effect) >= min_effect)


def neighborhood_table(
    reference: pd.Series, current: pd.Series, min_expected: float = 5.0
) -> pd.DataFrame:
    """Counts per neighborhood (reference, current); rare ones pooled as ``(other)``.

    A neighborhood is kept when its expected count in the smaller group is at least
    ``min_expected``: neighborhoods seen a few times at most carry little evidence each, and
    pooling them keeps the table small.
    """
    values = np.concatenate([reference.to_numpy(str), current.to_numpy(str)])
    names, codes = np.unique(values, return_inverse=True)
    counts = pd.DataFrame(
        {
            "reference": np.bincount(codes[: len(reference)], minlength=len(names)),
            "current": np.bincount(codes[len(reference) :], minlength=len(names)),
        },
        index=names,
    )
    expected = counts.sum(axis=1) * counts.sum().min() / counts.to_numpy().sum()
    keep = expected >= min_expected
    table = counts[keep].sort_values("reference", ascending=False)
    if (~keep).any():
        table.loc[OTHER_NEIGHBORHOODS] = counts[~keep].sum()
    return table.astype(int)


def _neighborhoods(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    min_expected: float,
    alpha: float,
    resampling: stats.MonteCarloMethod,
    min_effect: float,
) -> DriftTest:
    """Chi-square test of homogeneity; effect = Jensen-Shannon distance of the shares.

    The chi-square p-value is kept when it is at least ``alpha``: weighted Holm never holds a
    test to a higher level, so it cannot lead to a rejection. Below ``alpha`` the Monte Carlo
    p-value replaces it: valid at every level up to Monte Carlo error, however sparse the table.
    """
    table = neighborhood_table(reference["neighborhood"], current["neighborhood"], min_expected)
    n_ref, n_cur = int(table["reference"].sum()), int(table["current"].sum())
    if len(table) < 2:
        return _insufficient("neighborhood", "feature", "chi-square", n_ref, n_cur)
    observed = table.to_numpy()
    result = stats.chi2_contingency(observed, correction=False)
    method, p_value, resamples = "chi-square", float(result.pvalue), 0
    if p_value < alpha:
        resampled = stats.chi2_contingency(observed, correction=False, method=resampling)
        p_value, resamples = float(resampled.pvalue), resampling.n_resamples
        method = f"chi-square, Monte Carlo p-value ({resamples} tables)"
    effect = jensen_shannon(table["reference"].to_numpy(), table["current"].to_numpy())
    return DriftTest(
        "neighborhood",
        "feature",
        method,
        float(result.statistic),
        p_value,
        effect,
        "Jensen-Shannon distance",
        n_ref,
        n_cur,
        min_effect=min_effect,
        material=_reaches(effect, min_effect),
        details={
            "cramers_v": float(association(observed, method="cramer")),
            "categories": float(len(table)),
            "dof": float(result.dof),
            "resamples": float(resamples),
        },
    )


def _per_m2(frame: pd.DataFrame) -> pd.Series:
    return frame[TARGET_COLUMN] / frame["square_foot"].where(frame["square_foot"] > 0)


def log_ratio(frame: pd.DataFrame, model: PriceModel) -> np.ndarray:
    """log(price / prediction) per row; positive = the model under-prices.

    Raises ValueError when the model does not return one positive, finite price per listing.
    """
    predicted = np.asarray(model.predict(frame.loc[:, list(FEATURE_COLUMNS)]), dtype=float)
    if predicted.shape != (len(frame),):
        raise ValueError(
            f"model returned shape {predicted.shape} for {len(frame)} listings; expected one "
            "price per listing (wrap a loaded bh-pricing pyfunc, which returns price and "
            "interval columns, in bh_pricing.io.model_logging.PriceOnly)"
        )
    bad = ~np.isfinite(predicted) | (predicted <= 0)
    if bad.any():
        raise ValueError(f"model returned {int(bad.sum())} non-positive or non-finite price(s)")
    price = frame[TARGET_COLUMN].to_numpy(float)
    if (price <= 0).any():
        raise ValueError(f"{int((price <= 0).sum())} listing(s) have a non-positive price")
    return np.log(price / predicted)


def _performance(ref: np.ndarray, cur: np.ndarray, minimum: DriftThresholds) -> list[DriftTest]:
    """Bias: two-sided Mann-Whitney on log ratios; error: one-sided on |percentage error|.

    Effects: the relative change of the median price / prediction, and the rise of the median
    absolute percentage error (a fall is never material: the test is one-sided).
    """
    bias = stats.mannwhitneyu(cur, ref, alternative="two-sided")
    ref_bias, cur_bias = float(np.median(ref)), float(np.median(cur))
    ref_ape, cur_ape = np.abs(1 - np.exp(-ref)), np.abs(1 - np.exp(-cur))
    error = stats.mannwhitneyu(cur_ape, ref_ape, alternative="greater")
    n_ref, n_cur = len(ref), len(cur)
    bias_change = float(np.expm1(cur_bias - ref_bias))
    error_rise = float(np.median(cur_ape) - np.median(ref_ape))
    return [
        DriftTest(
            RESIDUAL_BIAS,
            "performance",
            "Mann-Whitney U (log price / prediction)",
            float(bias.statistic),
            float(bias.pvalue),
            bias_change,
            "price vs prediction, change (relative)",
            n_ref,
            n_cur,
            min_effect=minimum.price_change,
            material=_reaches(bias_change, minimum.price_change),
            details={
                "reference_bias": float(np.expm1(ref_bias)),
                "current_bias": float(np.expm1(cur_bias)),
            },
        ),
        DriftTest(
            ERROR_GROWTH,
            "performance",
            "Mann-Whitney U, one-sided (absolute % error)",
            float(error.statistic),
            float(error.pvalue),
            error_rise,
            "median APE change",
            n_ref,
            n_cur,
            min_effect=minimum.error_increase,
            material=_reaches(error_rise, minimum.error_increase, two_sided=False),
            details={
                "reference_mape": float(ref_ape.mean()),
                "current_mape": float(cur_ape.mean()),
            },
        ),
    ]


def _correct(
    tests: list[DriftTest], alpha: float, weights: dict[str, float], n_ref: int, n_cur: int
) -> DriftReport:
    """Weighted Holm over the tests that ran; a rejected test with a material effect is drift.

    Verdict: "drift" when any test flags drift, else "no drift (immaterial)" when any test is
    significant, else "no drift".
    """
    ran = [t for t in tests if t.verdict != INSUFFICIENT]
    unweighted = [t.name for t in ran if t.name not in weights]
    if unweighted:
        raise ValueError(f"no weight given for test(s) {unweighted}; weights: {sorted(weights)}")
    w = np.array([weights[t.name] for t in ran], dtype=float)
    adjusted, levels = weighted_holm(np.array([t.p_value for t in ran]), w, alpha)
    corrected = {
        t.name: replace(
            t,
            weight=float(wi / w.sum()),
            threshold=float(level),
            p_adjusted=float(p),
            significant=bool(p <= alpha),
            drifted=bool(p <= alpha and t.material),
            verdict=_verdict(bool(p <= alpha), t.material),
        )
        for t, wi, level, p in zip(ran, w, levels, adjusted, strict=True)
    }
    final = tuple(corrected.get(t.name, t) for t in tests)
    if any(t.drifted for t in final):
        verdict, reason = DRIFT, ""
    elif any(t.significant for t in final):
        verdict, reason = IMMATERIAL, ""
    elif ran:
        verdict, reason = NO_DRIFT, ""
    else:
        verdict, reason = INSUFFICIENT, "no test had enough non-missing values"
    return DriftReport(final, alpha, n_ref, n_cur, verdict, reason)


def _verdict(significant: bool, material: bool) -> str:
    if not significant:
        return NO_DRIFT
    return DRIFT if material else IMMATERIAL
