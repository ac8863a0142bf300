"""Local price level: what listings around a point cost per square metre.

A location's price level is the strongest single signal in house prices, and trees on raw
coordinates only approximate it with many axis-aligned splits. ``SpatialPriceLevel`` gives the
model the level directly: for each bandwidth h, the Gaussian-kernel mean of the training rows'
log price per square metre around the query, shrunk to the overall mean by ``prior_weight``, and
the kernel mass (how many listings back it)::

    w_j(x)  = exp(-d(x, x_j)² / (2 h²))            d in metres
    level   = (Σ_j w_j v_j + λ v̄) / (Σ_j w_j + λ)   v_j = log price_j - log area_j
    support = log(1 + Σ_j w_j)

``fit_transform`` (what a pipeline calls on its training rows) leaves each row out of its own
level, so the model never learns from a feature that contains its target; ``transform`` uses
every training row. Rows without coordinates get NaN, which gradient boosting handles natively.
Everything is float64 arithmetic that the ONNX export reproduces (``serving.onnx_convert``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

EARTH_RADIUS_M = 6_371_000.0
REFERENCE_LATITUDE = -19.92
METRES_PER_DEGREE = EARTH_RADIUS_M * np.pi / 180.0
METRES_PER_DEGREE_EAST = METRES_PER_DEGREE * float(np.cos(np.radians(REFERENCE_LATITUDE)))
SPATIAL_COLUMNS = ("latitude", "longitude", "square_foot")
CHUNK_ROWS = 512


def planar_metres(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """``[n, 2]`` float64 north and east in metres (equirectangular around Belo Horizonte)."""
    return np.column_stack(
        [
            np.asarray(latitude, np.float64) * METRES_PER_DEGREE,
            np.asarray(longitude, np.float64) * METRES_PER_DEGREE_EAST,
        ]
    )


def squared_distances(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``[n, m]`` squared distances between ``[n, 2]`` and ``[m, 2]`` planar points (metres²)."""
    north = query[:, None, 0] - reference[None, :, 0]
    east = query[:, None, 1] - reference[None, :, 1]
    return north**2 + east**2


class SpatialPriceLevel(TransformerMixin, BaseEstimator):
    """Kernel-mean log price per m² and kernel support at each bandwidth (see module doc).

    Input: the columns ``SPATIAL_COLUMNS`` in that order; ``y`` is log price. Output: two
    columns per bandwidth, ``price_level_<h>m`` and ``support_<h>m``. The default bandwidths (a
    block and a neighbourhood) were chosen by 5-fold CV on the training listings of the real file.
    """

    def __init__(
        self, bandwidths_m: Sequence[float] = (200.0, 800.0), prior_weight: float = 1.0
    ) -> None:
        self.bandwidths_m = bandwidths_m
        self.prior_weight = prior_weight

    def fit(self, X: object, y: object) -> SpatialPriceLevel:
        """Keep the located training rows' positions and log price per m²."""
        if not self.bandwidths_m or min(self.bandwidths_m) <= 0 or self.prior_weight <= 0:
            raise ValueError("bandwidths_m must be non-empty and positive, prior_weight positive")
        values = self._columns(X)
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (len(values),):
            raise ValueError(f"y must have one value per row: {target.shape} for {len(values)}")
        located = ~np.isnan(values[:, :2]).any(axis=1)
        level = target - np.log(values[:, 2])
        self.reference_ = planar_metres(values[located, 0], values[located, 1])
        self.levels_ = level[located]
        self.mean_level_ = float(level.mean())
        self.n_features_in_ = len(SPATIAL_COLUMNS)
        return self

    def fit_transform(self, X: object, y: object = None, **_: object) -> np.ndarray:
        """Fit, then the training rows' features with each row left out of its own level."""
        if y is None:
            raise ValueError("SpatialPriceLevel needs the target (log price) to fit")
        return self.fit(X, y)._features(self._columns(X), leave_one_out=True)

    def transform(self, X: object) -> np.ndarray:
        """``[n, 2 * len(bandwidths_m)]`` features from every training row."""
        check_is_fitted(self, "reference_")
        return self._features(self._columns(X), leave_one_out=False)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``price_level_<h>m`` and ``support_<h>m`` for each bandwidth."""
        names = [
            name for h in self.bandwidths_m for name in (f"price_level_{h:g}m", f"support_{h:g}m")
        ]
        return np.asarray(names, dtype=object)

    def _columns(self, X: object) -> np.ndarray:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(SPATIAL_COLUMNS):
            raise ValueError(f"SpatialPriceLevel expects the columns {SPATIAL_COLUMNS}")
        return values

    def _features(self, values: np.ndarray, leave_one_out: bool) -> np.ndarray:
        query = planar_metres(values[:, 0], values[:, 1])
        located = ~np.isnan(query).any(axis=1)
        own_level = self._own_levels(located) if leave_one_out else np.full(len(values), np.nan)
        out = np.full((len(values), 2 * len(self.bandwidths_m)), np.nan)
        for start in range(0, len(values), CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            distance2 = squared_distances(query[rows], self.reference_)
            for band, h in enumerate(self.bandwidths_m):
                weights = np.exp(-distance2 / (2.0 * h * h))
                mass = weights.sum(axis=1)
                weighted = weights @ self.levels_
                if leave_one_out:
                    own = ~np.isnan(own_level[rows])
                    mass[own] -= 1.0
                    weighted[own] -= own_level[rows][own]
                out[rows, 2 * band] = (weighted + self.prior_weight * self.mean_level_) / (
                    mass + self.prior_weight
                )
                out[rows, 2 * band + 1] = np.log1p(mass)
        out[~located] = np.nan
        return out

    def _own_levels(self, located: np.ndarray) -> np.ndarray:
        """Each training row's own level (NaN when it has no coordinates), in row order."""
        own = np.full(len(located), np.nan)
        own[located] = self.levels_
        return own
