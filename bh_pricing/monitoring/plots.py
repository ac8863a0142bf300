"""Reference-vs-current chart for drift reports (a PNG as a markdown image)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core.plots import png_markdown
from bh_pricing.monitoring.drift import PriceModel


def drift_chart(
    reference: pd.DataFrame, current: pd.DataFrame, model: PriceModel | None, title: str
) -> str:
    """Price per m², the model's log(price / prediction) and the neighborhood mix, side by side."""
    panels = 3 if model is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    series = {"reference": reference, "current": current}
    ppm = {k: np.log10(f["price"] / f["square_foot"]) for k, f in series.items()}
    axes[0].hist(list(ppm.values()), bins=30, density=True, label=list(ppm), alpha=0.7)
    axes[0].set(xlabel="log10 price per m² (BRL)", ylabel="density", title="target")
    axes[0].legend()
    top = reference["neighborhood"].value_counts().index[:10]
    shares = pd.DataFrame(
        {
            k: f["neighborhood"].value_counts(normalize=True).reindex(top).fillna(0)
            for k, f in series.items()
        }
    )
    shares.iloc[::-1].plot.barh(ax=axes[1], title="neighborhood share (top 10)")
    if model is not None:
        ratios = {
            k: np.log(f["price"] / model.predict(f.loc[:, list(FEATURE_COLUMNS)]))
            for k, f in series.items()
        }
        axes[2].hist(list(ratios.values()), bins=30, density=True, label=list(ratios), alpha=0.7)
        axes[2].axvline(0, color="black", linewidth=1)
        axes[2].set(xlabel="log(price / prediction)", title="model error")
        axes[2].legend()
    figure.suptitle(title)
    return png_markdown(figure, title)
