"""Charts for monitoring metadata (PNGs as markdown images): drift reports and realized errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from bh_pricing.core.plots import png_markdown
from bh_pricing.monitoring.drift import PriceModel, log_ratio
from bh_pricing.monitoring.realized import RealizedErrors
from bh_pricing.monitoring.report import DRIFT, IMMATERIAL, INSUFFICIENT, DriftReport

VERDICT_COLOURS = {DRIFT: "tab:red", IMMATERIAL: "tab:orange"}
OTHER_COLOUR = "tab:grey"


def drift_chart(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    model: PriceModel | None,
    title: str,
    report: DriftReport | None = None,
) -> str:
    """Price per m², the neighborhood mix, the model's log(price / prediction) and the effects.

    With a ``report``, a last panel shows each test's effect as a multiple of its minimum
    (1 = the materiality threshold), coloured by verdict and labelled with its adjusted p-value.
    """
    panels = 2 + (model is not None) + (report is not None)
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    series = {"reference": reference, "current": current}
    ppm = {k: np.log10(f["price"] / f["square_foot"]) for k, f in series.items()}
    axes[0].hist(list(ppm.values()), bins=30, density=True, label=list(ppm), alpha=0.7)
    axes[0].set(xlabel="log10 price per m² (BRL)", ylabel="density", title="target")
    axes[0].legend()
    _neighborhood_panel(axes[1], series)
    if model is not None:
        ratios = {k: log_ratio(f, model) for k, f in series.items()}
        axes[2].hist(list(ratios.values()), bins=30, density=True, label=list(ratios), alpha=0.7)
        axes[2].axvline(0, color="black", linewidth=1)
        axes[2].set(xlabel="log(price / prediction)", title="model error")
        axes[2].legend()
    if report is not None:
        _effects_panel(axes[-1], report)
    figure.suptitle(title)
    figure.tight_layout()
    return png_markdown(figure, title)


def _effects_panel(axis: Axes, report: DriftReport) -> None:
    """|effect| / minimum effect per test; red = drift, orange = immaterial, grey = no drift."""
    tests = [t for t in report.tests if t.verdict != INSUFFICIENT and t.min_effect > 0]
    names = [t.name for t in tests][::-1]
    ratios = [abs(t.effect) / t.min_effect for t in tests][::-1]
    colours = [VERDICT_COLOURS.get(t.verdict, OTHER_COLOUR) for t in tests][::-1]
    bars = axis.barh(names, ratios, color=colours)
    axis.bar_label(bars, labels=[f"p={t.p_adjusted:.2g}" for t in tests][::-1], fontsize=7)
    axis.axvline(1, color="black", linewidth=1, linestyle="--")
    axis.set(
        xlabel="effect / minimum effect (1 = material)",
        title="effects (red drift, orange immaterial)",
    )


def input_drift_chart(
    reference: pd.DataFrame, current: pd.DataFrame, title: str, report: DriftReport
) -> str:
    """Requests against the reference: area, rooms, the neighborhood mix and the effects."""
    figure, axes = plt.subplots(1, 4, figsize=(20, 4))
    series = {"reference": reference, "requests": current}
    area = {k: np.log10(f["square_foot"].dropna()) for k, f in series.items()}
    axes[0].hist(list(area.values()), bins=30, density=True, label=list(area), alpha=0.7)
    axes[0].set(xlabel="log10 area (m²)", ylabel="density", title="square_foot")
    axes[0].legend()
    rooms = pd.DataFrame(
        {k: f["rooms"].value_counts(normalize=True).sort_index() for k, f in series.items()}
    ).fillna(0)
    rooms.plot.bar(ax=axes[1], title="rooms (share)")
    _neighborhood_panel(axes[2], series)
    _effects_panel(axes[3], report)
    figure.suptitle(title)
    figure.tight_layout()
    return png_markdown(figure, title)


def _neighborhood_panel(axis: Axes, series: dict[str, pd.DataFrame]) -> None:
    """Shares of the reference's ten most frequent neighborhoods in each frame."""
    top = next(iter(series.values()))["neighborhood"].value_counts().index[:10]
    shares = pd.DataFrame(
        {
            k: f["neighborhood"].value_counts(normalize=True).reindex(top).fillna(0)
            for k, f in series.items()
        }
    )
    shares.iloc[::-1].plot.barh(ax=axis, title="neighborhood share (top 10)")


def realized_chart(result: RealizedErrors, reference_errors: np.ndarray, title: str) -> str:
    """Served price against the price the listing showed, and log(price / prediction), per
    model version beside the champion's holdout errors (``reference_errors``)."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    errors = {f"holdout (v{result.champion_version})": np.asarray(reference_errors, float)}
    for version, group in result.matched.groupby("model_version", sort=False):
        axes[0].scatter(group["price"], group["prediction"], s=10, alpha=0.6, label=f"v{version}")
        errors[f"v{version}"] = group["log_error"].to_numpy(float)
    prices = result.matched[["price", "prediction"]].to_numpy(float)
    low, high = float(prices.min()), float(prices.max())
    axes[0].plot([low, high], [low, high], color="black", linewidth=1)
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="realized price (BRL)",
        ylabel="served prediction (BRL)",
        title="served vs realized",
    )
    axes[0].legend()
    shown = {k: v for k, v in errors.items() if len(v)}
    axes[1].hist(list(shown.values()), bins=30, density=True, label=list(shown), alpha=0.7)
    axes[1].axvline(0, color="black", linewidth=1)
    axes[1].set(xlabel="log(price / prediction)", ylabel="density", title="realized errors")
    axes[1].legend()
    figure.suptitle(title)
    figure.tight_layout()
    return png_markdown(figure, title)
