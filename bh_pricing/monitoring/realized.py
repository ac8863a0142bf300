"""Realized errors: served predictions against the prices their listings later showed.

A request may carry the caller's ``listing_id`` (``bh_pricing.constants.LISTING_ID``), recorded in
the prediction log; a landed batch with a ``listing_id`` column gives those listings' prices. The
two are joined on the id (compared after stripping spaces, case kept):

- a listing priced several times by one model version counts once, with its latest prediction
  (the price the caller last saw from that version); each version that priced it counts it once;
- an id on more than one clean row of the batch is ambiguous (two prices) and left out, counted;
- log rows without an id, and batch rows without one, are not matched.

Per model version: matched listings, MAE (BRL), MAPE and the median and mean signed log error
``log(price / prediction)`` (positive = the model under-priced; the bias of the drift report's
``residual_bias`` test).

The current champion's realized errors are then compared with its own errors on its holdout
(the drift reference, ``bh_pricing.monitoring.retraining.split_holdout``): it is "degraded" only
when the realized absolute log errors are significantly larger (one-sided Mann-Whitney U,
``scipy.stats.mannwhitneyu``, p <= ``alpha``) *and* material (MAPE at least ``min_mape_increase``
above the holdout MAPE, relative: 0.25 = 25 % higher), the significant-and-material rule of
``bh_pricing.monitoring.materiality``. Fewer than ``min_rows`` matched listings priced by the
champion give "insufficient data"; a batch without ids gives "no listing ids".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bh_pricing.constants import LISTING_ID, TARGET_COLUMN

DEGRADED = "degraded"
WITHIN_TOLERANCE = "within tolerance"
IMMATERIAL = "within tolerance (immaterial)"
INSUFFICIENT = "insufficient data"
NO_IDS = "no listing ids"
PASSING = frozenset({WITHIN_TOLERANCE, IMMATERIAL})

VERSION_COLUMNS = (
    "model_version",
    "matched",
    "mae_brl",
    "mape",
    "median_log_error",
    "mean_log_error",
)


@dataclass(frozen=True)
class RealizedSettings:
    """When the champion's realized errors count as degraded.

    ``alpha``: one-sided significance level, in (0, 1). ``min_rows``: least matched listings of
    the champion to test (>= 2). ``min_mape_increase``: least relative rise of the MAPE over the
    holdout's (0.25 = 25 %), finite and >= 0. Raises ``ValueError`` naming a bad value.
    """

    alpha: float = 0.05
    min_rows: int = 30
    min_mape_increase: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.min_rows < 2:
            raise ValueError(f"min_rows must be >= 2, got {self.min_rows}")
        if not math.isfinite(self.min_mape_increase) or self.min_mape_increase < 0:
            raise ValueError(
                f"min_mape_increase must be finite and >= 0, got {self.min_mape_increase}"
            )


@dataclass(frozen=True)
class RealizedErrors:
    """The outcome for one batch.

    ``versions``: one row per model version with matched listings (``VERSION_COLUMNS``; BRL,
    fractions, log units). ``matched``: one row per (listing, version): ``listing_id``,
    ``model_version``, ``time``, ``prediction`` and ``price`` (BRL), ``log_error``.
    ``batch_ids``: clean rows of the batch with an id; ``ambiguous_ids``: ids left out because
    several rows carry them. The champion's test: ``p_value``, its realized and holdout MAPE and
    the relative ``mape_increase`` (None when not tested).
    """

    verdict: str
    reason: str
    champion_version: str | None
    versions: pd.DataFrame
    matched: pd.DataFrame
    batch_ids: int
    ambiguous_ids: int
    p_value: float | None = None
    champion_mape: float | None = None
    reference_mape: float | None = None
    mape_increase: float | None = None

    @property
    def degraded(self) -> bool:
        """True when the champion's realized errors are significantly and materially worse."""
        return self.verdict == DEGRADED

    @property
    def passed(self) -> bool:
        """True for "within tolerance", immaterial or not."""
        return self.verdict in PASSING

    @property
    def champion_matched(self) -> int:
        """Matched listings priced by the champion."""
        return len(of_version(self.matched, self.champion_version))

    def to_markdown(self) -> str:
        """The per-version table (MAE in BRL, MAPE in %), the champion's version marked."""
        if self.versions.empty:
            return "no matched listings"
        table = pd.DataFrame(
            {
                "model_version": self.versions["model_version"],
                "champion": np.where(
                    self.versions["model_version"] == self.champion_version, "yes", ""
                ),
                "matched": self.versions["matched"].astype(str),
                "mae_brl": self.versions["mae_brl"].map("{:,.0f}".format),
                "mape": self.versions["mape"].map("{:.1%}".format),
                "median_log_error": self.versions["median_log_error"].map("{:+.4f}".format),
                "mean_log_error": self.versions["mean_log_error"].map("{:+.4f}".format),
            }
        )
        return table.to_markdown(index=False, disable_numparse=True)


def log_errors(price: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``log(price / prediction)`` per listing; raises ``ValueError`` on a non-positive or
    non-finite price or prediction (BRL)."""
    price, prediction = np.asarray(price, dtype=float), np.asarray(prediction, dtype=float)
    for name, values in (("price", price), ("prediction", prediction)):
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} non-positive or non-finite {name}(s)")
    return np.log(price / prediction)


def absolute_percentage_errors(errors: np.ndarray) -> np.ndarray:
    """|price - prediction| / price from log errors ``log(price / prediction)``."""
    return np.abs(1 - np.exp(-np.asarray(errors, dtype=float)))


def match_predictions(log: pd.DataFrame, batch: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Join the prediction log (``read_prediction_log`` columns) with a clean batch on the id.

    Returns the matched rows (see ``RealizedErrors.matched``), the batch rows with an id and the
    ambiguous ids. A batch without a ``listing_id`` column has no id. Raises ``ValueError``
    naming the log columns missing.
    """
    matched = pd.DataFrame(
        {
            LISTING_ID: pd.Series(dtype="string"),
            "model_version": pd.Series(dtype="string"),
            "time": pd.Series(dtype="datetime64[ns, UTC]"),
            "prediction": pd.Series(dtype=float),
            TARGET_COLUMN: pd.Series(dtype=float),
            "log_error": pd.Series(dtype=float),
        }
    )
    if LISTING_ID not in batch.columns:
        return matched, 0, 0
    missing = [c for c in (LISTING_ID, "model_version", "time", "prediction") if c not in log]
    if missing:
        raise ValueError(f"prediction log: missing column(s) {missing}")
    prices = batch.loc[:, [LISTING_ID, TARGET_COLUMN]].assign(
        **{LISTING_ID: _ids(batch[LISTING_ID])}
    )
    prices = prices[prices[LISTING_ID].notna()]
    repeated = prices[LISTING_ID].duplicated(keep=False)
    ambiguous = int(prices.loc[repeated, LISTING_ID].nunique())
    served = log.loc[:, [LISTING_ID, "model_version", "time", "prediction"]].assign(
        **{LISTING_ID: _ids(log[LISTING_ID])}
    )
    served = served[served[LISTING_ID].notna() & served["model_version"].notna()]
    latest = served.sort_values("time", kind="stable").drop_duplicates(
        [LISTING_ID, "model_version"], keep="last"
    )
    joined = latest.merge(prices[~repeated], on=LISTING_ID, how="inner", validate="many_to_one")
    if not joined.empty:
        joined["log_error"] = log_errors(joined[TARGET_COLUMN], joined["prediction"])
        matched = joined.sort_values(["model_version", LISTING_ID], kind="stable").loc[
            :, list(matched.columns)
        ]
    return matched.reset_index(drop=True), len(prices), ambiguous


def of_version(matched: pd.DataFrame, version: str | None) -> pd.DataFrame:
    """The matched rows of model ``version`` (none for None)."""
    if version is None:
        return matched.iloc[:0]
    return matched[(matched["model_version"] == version).to_numpy(dtype=bool)]


def _ids(values: pd.Series) -> pd.Series:
    """Ids as stripped strings; blank ones null."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def version_table(matched: pd.DataFrame) -> pd.DataFrame:
    """One row per model version (``VERSION_COLUMNS``), versions in numeric order."""
    rows = []
    for version, group in matched.groupby("model_version", sort=False):
        errors = group["log_error"].to_numpy(float)
        price = group[TARGET_COLUMN].to_numpy(float)
        rows.append(
            {
                "model_version": str(version),
                "matched": len(group),
                "mae_brl": float(np.mean(np.abs(price - group["prediction"].to_numpy(float)))),
                "mape": float(np.mean(absolute_percentage_errors(errors))),
                "median_log_error": float(np.median(errors)),
                "mean_log_error": float(np.mean(errors)),
            }
        )
    rows.sort(key=lambda row: _version_order(row["model_version"]))
    return pd.DataFrame(rows, columns=list(VERSION_COLUMNS))


def _version_order(version: str) -> tuple[int, int, str]:
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


@dataclass(frozen=True)
class _Outcome:
    verdict: str
    reason: str
    p_value: float | None = None
    champion_mape: float | None = None
    reference_mape: float | None = None
    mape_increase: float | None = None


def measure_realized_errors(
    log: pd.DataFrame,
    batch: pd.DataFrame,
    champion_version: str | None,
    reference_errors: np.ndarray,
    settings: RealizedSettings | None = None,
) -> RealizedErrors:
    """Realized errors per model version and the verdict on the champion's (module docstring).

    ``log``: the prediction log (``bh_pricing.serving.log_reader.read_prediction_log``);
    ``batch``: clean listings (``CleanListings``, optionally with ``listing_id``);
    ``champion_version``: the registry's champion (None before the first);
    ``reference_errors``: the champion's ``log(price / prediction)`` on its holdout (may be
    empty without a champion). Raises ``ValueError`` when the champion is to be tested without
    reference errors, or a price or prediction is not positive.
    """
    settings = settings or RealizedSettings()
    matched, batch_ids, ambiguous = match_predictions(log, batch)
    current = of_version(matched, champion_version)["log_error"].to_numpy(float)
    if batch_ids == 0:
        outcome = _Outcome(
            NO_IDS,
            "the batch has no listing_id column"
            if LISTING_ID not in batch.columns
            else "no clean row of the batch has a listing_id",
        )
    elif champion_version is None:
        outcome = _Outcome(INSUFFICIENT, "no champion yet")
    elif len(current) < settings.min_rows:
        outcome = _Outcome(
            INSUFFICIENT,
            f"{len(current)} listing(s) of the batch priced by champion version "
            f"{champion_version}, at least {settings.min_rows} are needed",
        )
    else:
        reference = np.asarray(reference_errors, dtype=float)
        if len(reference) == 0:
            raise ValueError(f"champion version {champion_version}: no reference errors given")
        outcome = _compare(current, reference, settings)
    return RealizedErrors(
        outcome.verdict,
        outcome.reason,
        champion_version,
        version_table(matched),
        matched,
        batch_ids,
        ambiguous,
        outcome.p_value,
        outcome.champion_mape,
        outcome.reference_mape,
        outcome.mape_increase,
    )


def _compare(current: np.ndarray, reference: np.ndarray, settings: RealizedSettings) -> _Outcome:
    """One-sided Mann-Whitney U on absolute log errors, and the relative MAPE rise."""
    test = stats.mannwhitneyu(np.abs(current), np.abs(reference), alternative="greater")
    p_value = float(test.pvalue)
    current_mape = float(np.mean(absolute_percentage_errors(current)))
    reference_mape = float(np.mean(absolute_percentage_errors(reference)))
    if reference_mape > 0:
        increase = current_mape / reference_mape - 1
    else:
        increase = math.inf if current_mape > 0 else 0.0
    significant = p_value <= settings.alpha
    material = increase >= settings.min_mape_increase
    if significant and material:
        verdict = DEGRADED
    elif significant:
        verdict = IMMATERIAL
    else:
        verdict = WITHIN_TOLERANCE
    reason = (
        f"MAPE {current_mape:.1%} on {len(current)} listings vs {reference_mape:.1%} on the "
        f"holdout ({increase:+.0%}, minimum {settings.min_mape_increase:+.0%}); "
        f"one-sided Mann-Whitney p = {p_value:.3g} (alpha {settings.alpha})"
    )
    return _Outcome(verdict, reason, p_value, current_mape, reference_mape, increase)
