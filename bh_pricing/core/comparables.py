"""Comparable listings: adjust a model's prediction by how its comparables were mispriced.

Appraisers price a property from comparables, recent prices of similar properties nearby. On the
Belo Horizonte listings the strongest comparables are listings at the same geocoded address with
(nearly) the same area, rooms, parking and fees, often the same flat offered twice; a fifth of
the held-out rows have one in the training set, and their prices differ by a median 3 %.

``ComparablesAdjusted`` fits a base regressor (in log-price space), keeps each training row's
residual, and adds to a prediction the kernel-weighted mean residual of the training rows that
are comparable to it::

    log k(x, x_j) = -d²/(2 h_d²) - Δlog area²/(2 h_a²) - p_r |Δrooms| - p_g |Δgarage|
                    - p_f |Δlog(1 + fees)|
    correction(x) = Σ_j k r_j / (λ + Σ_j k)

with d the distance in metres. A query with no comparable (or no coordinates) keeps the base
prediction; ``λ`` (``prior_weight``) shrinks a correction backed by little kernel weight. The
residuals are in-sample, so a query identical to a training row is priced at that row's price.

The reference is bounded: training rows with identical comparable features are aggregated into
one entry (their count and residual sum: the kernel sums do not change), entries are filed by
square cells of ``2 * REACH_BANDWIDTHS * distance_m`` metres, and a query reads the 2 x 2 cells
nearest to it, so every training row within ``REACH_BANDWIDTHS`` distance bandwidths is seen
(further ones would weigh at most exp(-12.5) ≈ 4e-6, a negligible share next to ``λ``). At
most ``MAX_PER_CELL`` entries are kept per cell and ``MAX_ENTRIES`` in all (about 8 MB in the
ONNX bundle); when a cap binds the entries with the largest absolute mean residual are kept (the
ones that move a price), and ``dropped_rows_`` / ``dropped_residual_max_`` say how many training
rows were left out and the largest absolute residual among them. Everything is float64
arithmetic that the ONNX export reproduces (``serving.onnx_convert``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from bh_pricing.core.spatial import planar_metres

COMPARABLE_COLUMNS = ("latitude", "longitude", "square_foot", "rooms", "garage_places", "adm_fees")
REACH_BANDWIDTHS = 5.0
MAX_PER_CELL = 32
MAX_ENTRIES = 80_000
KEY_STRIDE = 1 << 22
CHUNK_ROWS = 4096
COUNT, RESIDUAL_SUM = 6, 7


def comparable_features(X: pd.DataFrame) -> np.ndarray:
    """``[n, 6]`` float64: north and east in metres, log area, rooms, garage, log(1 + fees)."""
    missing = [c for c in COMPARABLE_COLUMNS if c not in X.columns]
    if missing:
        raise ValueError(f"comparables need the columns {missing}")
    values = X.loc[:, list(COMPARABLE_COLUMNS)].to_numpy(dtype=np.float64)
    latitude, longitude, area, rooms, garage, fees = values.T
    return np.column_stack(
        [planar_metres(latitude, longitude), np.log(area), rooms, garage, np.log1p(fees)]
    )


def cell_keys(features: np.ndarray, cell_m: float, nearest: bool) -> np.ndarray:
    """int64 cell keys of ``[n, >=2]`` planar points: ``[n]`` own cell, or ``[n, 4]`` nearest.

    The nearest 2 x 2 cells cover every point within ``cell_m / 2`` of the query (per axis).
    Rows without coordinates are keyed at the origin, where no listing is.
    """
    position = np.nan_to_num(features[:, :2], nan=0.0) / cell_m
    if not nearest:
        cells = np.floor(position).astype(np.int64)
        return cells[:, 0] * KEY_STRIDE + cells[:, 1]
    low = np.floor(position - 0.5).astype(np.int64)
    north = low[:, 0, None] + np.array([0, 0, 1, 1])
    east = low[:, 1, None] + np.array([0, 1, 0, 1])
    return north * KEY_STRIDE + east


class ComparablesAdjusted(RegressorMixin, BaseEstimator):
    """``base`` plus the kernel-weighted residual of comparable training rows (see module doc).

    Parameters are the kernel's scales: ``distance_m`` (h_d), ``area_scale`` (h_a, in log area),
    ``rooms_penalty``, ``garage_penalty``, ``fees_penalty`` (per unit difference, in log units)
    and ``prior_weight`` (λ). The defaults were chosen by 5-fold CV on the training listings of
    the real file: comparables within a few metres (the same geocoded address) of nearly the
    same area, with the same rooms and parking; wider kernels or stronger shrinkage scored worse.

    Fitted reference: ``entries_`` ``[E + MAX_PER_CELL, 8]`` (the six comparable features, row
    count, residual sum; sorted by cell, zero rows at the end), ``cell_keys_`` (sorted),
    ``cell_starts_`` and ``cell_counts_`` (first entry and number of entries of each cell, one
    extra empty cell at the end for keys not found).
    """

    def __init__(
        self,
        base: BaseEstimator,
        distance_m: float = 2.0,
        area_scale: float = 0.05,
        rooms_penalty: float = 5.0,
        garage_penalty: float = 5.0,
        fees_penalty: float = 1.0,
        prior_weight: float = 0.02,
    ) -> None:
        self.base = base
        self.distance_m = distance_m
        self.area_scale = area_scale
        self.rooms_penalty = rooms_penalty
        self.garage_penalty = garage_penalty
        self.fees_penalty = fees_penalty
        self.prior_weight = prior_weight

    @property
    def cell_m(self) -> float:
        """Side of a reference cell in metres."""
        return 2.0 * REACH_BANDWIDTHS * self.distance_m

    def fit(
        self, X: pd.DataFrame, y: pd.Series | np.ndarray, **fit_params: Any
    ) -> ComparablesAdjusted:
        """Fit ``base`` (``fit_params``, e.g. sample weights, go to its fit); file the located
        training rows' in-sample residuals by cell (unweighted: a comparable is a listing)."""
        if self.distance_m <= 0 or self.area_scale <= 0 or self.prior_weight <= 0:
            raise ValueError("distance_m, area_scale and prior_weight must be positive")
        target = np.asarray(y, dtype=np.float64)
        self.base_ = clone(self.base).fit(X, target, **fit_params)
        residuals = target - np.asarray(self.base_.predict(X), dtype=np.float64)
        features = comparable_features(X)
        located = ~np.isnan(features).any(axis=1)
        self._file_reference(features[located], residuals[located])
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _file_reference(self, features: np.ndarray, residuals: np.ndarray) -> None:
        """Aggregate identical rows, apply the caps, sort by cell (see module doc)."""
        unique, inverse = np.unique(features, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        counts = np.bincount(inverse, minlength=len(unique)).astype(np.float64)
        sums = np.bincount(inverse, residuals, minlength=len(unique))
        keys = cell_keys(unique, self.cell_m, nearest=False)
        strength = np.abs(sums / np.maximum(counts, 1.0))
        order = np.lexsort((-strength, keys))
        first = np.searchsorted(keys[order], keys[order], side="left")
        kept = order[np.arange(len(order)) - first < MAX_PER_CELL]
        if len(kept) > MAX_ENTRIES:
            kept = kept[np.argsort(-strength[kept], kind="stable")[:MAX_ENTRIES]]
        dropped = np.setdiff1d(np.arange(len(unique)), kept)
        self.dropped_rows_ = int(counts[dropped].sum())
        self.dropped_residual_max_ = float(
            np.abs(residuals[np.isin(inverse, dropped)]).max(initial=0)
        )
        kept = kept[np.lexsort((-strength[kept], keys[kept]))]
        table = np.column_stack([unique[kept], counts[kept], sums[kept]])
        self.entries_ = np.concatenate([table, np.zeros((MAX_PER_CELL, table.shape[1]))])
        self.cell_keys_, starts, cell_counts = np.unique(
            keys[kept], return_index=True, return_counts=True
        )
        self.cell_starts_ = np.append(starts, 0).astype(np.int64)
        self.cell_counts_ = np.append(cell_counts, 0).astype(np.int64)

    def candidate_entries(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[n, 4, MAX_PER_CELL]`` entry rows a query reads, and whether each is a real entry."""
        keys = cell_keys(features, self.cell_m, nearest=True)
        slot = np.searchsorted(self.cell_keys_, keys)
        slot = np.minimum(slot, len(self.cell_keys_))
        found = np.zeros(keys.shape, bool)
        inside = slot < len(self.cell_keys_)
        found[inside] = self.cell_keys_[slot[inside]] == keys[inside]
        slot = np.where(found, slot, len(self.cell_keys_))
        rank = np.arange(MAX_PER_CELL)
        rows = self.cell_starts_[slot][..., None] + rank
        return rows, rank < self.cell_counts_[slot][..., None]

    def kernel_sums(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[n]`` kernel mass Σ k and kernel-weighted residual Σ k r of each query."""
        rows, real = self.candidate_entries(features)
        entries = self.entries_[rows]

        def delta(column: int) -> np.ndarray:
            return features[:, None, None, column] - entries[..., column]

        log_weight = (
            -(delta(0) ** 2 + delta(1) ** 2) / (2 * self.distance_m**2)
            - delta(2) ** 2 / (2 * self.area_scale**2)
            - self.rooms_penalty * np.abs(delta(3))
            - self.garage_penalty * np.abs(delta(4))
            - self.fees_penalty * np.abs(delta(5))
        )
        kernel = np.nan_to_num(np.exp(log_weight), nan=0.0) * real
        mass = (kernel * entries[..., COUNT]).sum(axis=(1, 2))
        return mass, (kernel * entries[..., RESIDUAL_SUM]).sum(axis=(1, 2))

    def correction(self, X: pd.DataFrame) -> np.ndarray:
        """The adjustment added to the base prediction, row by row."""
        check_is_fitted(self, "entries_")
        features = comparable_features(X)
        out = np.empty(len(features), dtype=np.float64)
        for start in range(0, len(features), CHUNK_ROWS):
            mass, weighted = self.kernel_sums(features[start : start + CHUNK_ROWS])
            out[start : start + CHUNK_ROWS] = weighted / (self.prior_weight + mass)
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Base prediction plus the comparables' correction."""
        check_is_fitted(self, "base_")
        return np.asarray(self.base_.predict(X), dtype=np.float64) + self.correction(X)
