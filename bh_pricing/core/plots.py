"""Small PNG charts for asset metadata (rendered in the Dagster UI as markdown images)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def png_markdown(figure: plt.Figure, alt: str) -> str:
    """Encode a figure as an inline markdown image and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str) -> str:
    """Scatter of predicted against actual prices (log axes) with the identity line."""
    figure, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(actual, predicted, s=6, alpha=0.4)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="black", linewidth=1)
    ax.set(xscale="log", yscale="log", xlabel="actual price (BRL)", ylabel="predicted price (BRL)")
    ax.set_title(title)
    return png_markdown(figure, title)
