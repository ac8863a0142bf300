"""Local price level: what listings around a point cost per square metre.

A location's price level is the strongest single signal in house prices, and trees on raw
coordinates only approximate it with many axis-aligned splits. ``SpatialPriceLevel`` gives the
model the level directly: for each bandwidth h, the Gaussian-kernel mean of the training rows'
log price per square metre around the query, shrunk to the overall mean by ``prior_weight``, and
the kernel mass (how many listings back it)::

    w_j(x)  = exp(-d(x, x_j)² / (2 h²))            d in metres, truncated at 3 h per axis
    level   = (Σ_j w_j v_j + λ v̄) / (Σ_j w_j + λ)   v_j = log price_j - log area_j
    support = log(1 + Σ_j w_j)

The sums are kept on a lattice (``PriceLattice``), the binned kernel estimate of Wand & Jones,
*Kernel Smoothing* (1995), §D.2: each training row is shared between the four lattice nodes
around it (linear binning), the node sums are convolved with the kernel (separable, truncated at
3 h), and a query reads the four nodes around it (bilinear interpolation). Fitting costs
O(n + nodes · h / spacing) instead of O(n²), and a query reads four nodes whatever n is. The
spacing is ``h / NODES_PER_BANDWIDTH`` (an error of a fraction of a percent of the kernel sums)
unless the lattice would exceed ``MAX_NODES`` occupied nodes; then the spacing grows until it
fits, so the fitted transformer (and its ONNX export) never grows with the number of rows.

``fit_transform`` (what a pipeline calls on its training rows) leaves each row out of its own
level: the row's own contribution to the node sums read at its position is known exactly (the
binning weights times the kernel between the four nodes), and subtracted, so the model never
learns from a feature that contains its target. ``transform`` uses every training row. Rows
without coordinates get NaN, which gradient boosting handles natively. The ONNX export
(``serving.onnx_convert``) reproduces ``transform`` with the same stored node sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

EARTH_RADIUS_M = 6_371_000.0
REFERENCE_LATITUDE = -19.92
METRES_PER_DEGREE = EARTH_RADIUS_M * np.pi / 180.0
METRES_PER_DEGREE_EAST = METRES_PER_DEGREE * float(np.cos(np.radians(REFERENCE_LATITUDE)))
SPATIAL_COLUMNS = ("latitude", "longitude", "square_foot")
TRUNCATE_BANDWIDTHS = 3.0
NODES_PER_BANDWIDTH = 8
BLOCK = 16
MAX_NODES = 600_000
MAX_DENSE_NODES = 16_000_000
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


def planar_metres(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """``[n, 2]`` float64 north and east in metres (equirectangular around Belo Horizonte)."""
    return np.column_stack(
        [
            np.asarray(latitude, np.float64) * METRES_PER_DEGREE,
            np.asarray(longitude, np.float64) * METRES_PER_DEGREE_EAST,
        ]
    )


@dataclass(frozen=True)
class LatticeCorners:
    """Where ``[n, 2]`` planar points fall on a lattice: lower-left node and offsets in [0, 1]."""

    row: np.ndarray
    column: np.ndarray
    north_offset: np.ndarray
    east_offset: np.ndarray

    def weights(self) -> tuple[np.ndarray, ...]:
        """Bilinear weights of the nodes (0, 0), (0, 1), (1, 0), (1, 1) around each point."""
        f, g = self.north_offset, self.east_offset
        return (1 - f) * (1 - g), (1 - f) * g, f * (1 - g), f * g


@dataclass(frozen=True)
class PriceLattice:
    """Kernel sums of one bandwidth on a regular lattice, stored by occupied blocks.

    Node (i, j) sits at ``origin + (i, j) * spacing_m`` (north, east, metres). Nodes are grouped
    in ``BLOCK`` x ``BLOCK`` blocks; ``block_index`` ``[rows / BLOCK, columns / BLOCK]`` gives
    each block's position in ``values`` (0 is an all-zero block shared by every empty one), and
    ``values`` ``[(blocks + 1) * BLOCK², 2]`` float32 holds each node's kernel mass and kernel
    sum of levels. The outer ring of nodes is zero, so a query is clipped to the lattice.
    """

    bandwidth_m: float
    spacing_m: float
    origin: tuple[float, float]
    shape: tuple[int, int]
    block_index: np.ndarray
    values: np.ndarray

    def corners(self, points: np.ndarray) -> LatticeCorners:
        """Lattice position of ``[n, 2]`` planar points (NaN rows are placed at node 0, 0)."""
        grid = [
            np.clip(
                np.nan_to_num((points[:, axis] - self.origin[axis]) / self.spacing_m, nan=0.0),
                0.0,
                self.shape[axis] - 2.0,
            )
            for axis in (0, 1)
        ]
        row, column = np.floor(grid[0]), np.floor(grid[1])
        return LatticeCorners(
            row.astype(np.int64), column.astype(np.int64), grid[0] - row, grid[1] - column
        )

    def flat_node(self, row: np.ndarray, column: np.ndarray) -> np.ndarray:
        """Row of ``values`` holding lattice node (row, column)."""
        block = self.block_index[row // BLOCK, column // BLOCK]
        return block * BLOCK * BLOCK + (row % BLOCK) * BLOCK + column % BLOCK

    def read(self, points: np.ndarray) -> np.ndarray:
        """``[n, 2]`` float64 kernel mass and kernel sum of levels at planar points."""
        at = self.corners(points)
        out = np.zeros((len(points), 2))
        for weight, (down, right) in zip(at.weights(), CORNERS, strict=True):
            node = self.flat_node(at.row + down, at.column + right)
            out += weight[:, None] * self.values[node].astype(np.float64)
        return out

    @property
    def n_nodes(self) -> int:
        """Stored nodes, the shared zero block included."""
        return len(self.values)


def kernel_taps(bandwidth_m: float, spacing_m: float) -> np.ndarray:
    """1-D Gaussian kernel at lattice offsets ``-r..r`` (``r = ceil(3 h / spacing)``)."""
    reach = int(np.ceil(TRUNCATE_BANDWIDTHS * bandwidth_m / spacing_m))
    offsets = np.arange(-reach, reach + 1) * spacing_m
    return np.exp(-(offsets**2) / (2.0 * bandwidth_m**2))


def build_lattice(points: np.ndarray, levels: np.ndarray, bandwidth_m: float) -> PriceLattice:
    """Kernel sums of ``[m, 2]`` planar points carrying ``[m]`` levels, as a ``PriceLattice``.

    The spacing starts at ``h / NODES_PER_BANDWIDTH`` and grows by a quarter until the dense
    lattice has at most ``MAX_DENSE_NODES`` nodes and the occupied blocks at most ``MAX_NODES``.
    Without points, every query reads zero kernel mass (one zero block).
    """
    spacing = bandwidth_m / NODES_PER_BANDWIDTH
    if len(points) == 0:
        nothing = np.zeros((1, 1), np.int64)
        zeros = np.zeros((BLOCK * BLOCK, 2), np.float32)
        return PriceLattice(bandwidth_m, spacing, (0.0, 0.0), (BLOCK, BLOCK), nothing, zeros)
    while (lattice := _lattice_at(points, levels, bandwidth_m, spacing)) is None:
        spacing *= 1.25
    return lattice


def _lattice_at(
    points: np.ndarray, levels: np.ndarray, bandwidth_m: float, spacing: float
) -> PriceLattice | None:
    """The lattice at ``spacing``, or None when it is over a size cap."""
    taps = kernel_taps(bandwidth_m, spacing)
    margin = (len(taps) // 2 + 2) * spacing
    origin = points.min(axis=0) - margin
    extent = points.max(axis=0) + margin - origin
    shape = (
        int(np.ceil(extent[0] / spacing / BLOCK)) * BLOCK,
        int(np.ceil(extent[1] / spacing / BLOCK)) * BLOCK,
    )
    if shape[0] * shape[1] > MAX_DENSE_NODES:
        return None
    empty = np.zeros((1, 1), np.int64)
    binning = PriceLattice(bandwidth_m, spacing, (origin[0], origin[1]), shape, empty, empty)
    at = binning.corners(points)
    sums = np.zeros((2, shape[0] * shape[1]))
    for weight, (down, right) in zip(at.weights(), CORNERS, strict=True):
        node = (at.row + down) * shape[1] + at.column + right
        sums[0] += np.bincount(node, weight, minlength=sums.shape[1])
        sums[1] += np.bincount(node, weight * levels, minlength=sums.shape[1])
    grid = correlate1d(sums.reshape(2, *shape), taps, axis=1, mode="constant")
    grid = correlate1d(grid, taps, axis=2, mode="constant")
    blocks = grid.reshape(2, shape[0] // BLOCK, BLOCK, shape[1] // BLOCK, BLOCK)
    blocks = blocks.transpose(1, 3, 2, 4, 0).reshape(shape[0] // BLOCK, shape[1] // BLOCK, -1, 2)
    occupied = (blocks[..., 0] != 0).any(axis=2)
    stored = int(occupied.sum())
    if (stored + 1) * BLOCK * BLOCK > MAX_NODES:
        return None
    block_index = np.zeros(occupied.shape, np.int64)
    block_index[occupied] = np.arange(1, stored + 1)
    values = np.concatenate([np.zeros((BLOCK * BLOCK, 2)), blocks[occupied].reshape(-1, 2)])
    return PriceLattice(
        bandwidth_m, spacing, binning.origin, shape, block_index, values.astype(np.float32)
    )


def own_weight(lattice: PriceLattice, points: np.ndarray) -> np.ndarray:
    """``[n]`` weight of each training point in the kernel mass read back at its own position.

    The point is binned to its four nodes and read from the same four nodes, so its own weight
    is ``Σ_a Σ_b w_a w_b k(node_a - node_b)``, which factorises by axis (the kernel does).
    """
    at = lattice.corners(points)
    step = float(np.exp(-(lattice.spacing_m**2) / (2.0 * lattice.bandwidth_m**2)))

    def axis(offset: np.ndarray) -> np.ndarray:
        return (1 - offset) ** 2 + offset**2 + 2 * offset * (1 - offset) * step

    return axis(at.north_offset) * axis(at.east_offset)


class SpatialPriceLevel(TransformerMixin, BaseEstimator):
    """Kernel-mean log price per m² and kernel support at each bandwidth (see module doc).

    Input: the columns ``SPATIAL_COLUMNS`` in that order; ``y`` is log price. Output: two
    columns per bandwidth, ``price_level_<h>m`` and ``support_<h>m``. The default bandwidths (a
    block and a neighbourhood) were chosen by 5-fold CV on the training listings of the real file.
    Fitted state: one ``PriceLattice`` per bandwidth (``lattices_``), at most ``MAX_NODES``
    nodes each, whatever the number of training rows.
    """

    def __init__(
        self, bandwidths_m: Sequence[float] = (200.0, 800.0), prior_weight: float = 1.0
    ) -> None:
        self.bandwidths_m = bandwidths_m
        self.prior_weight = prior_weight

    def fit(self, X: object, y: object) -> SpatialPriceLevel:
        """Build the lattices from the located training rows' positions and log price per m².

        Raises ``ValueError`` for bad parameters or a ``y`` of another length.
        """
        self._fit(self._columns(X), y)
        return self

    def fit_transform(self, X: object, y: object = None, **_: object) -> np.ndarray:
        """Fit, then the training rows' features with each row left out of its own level."""
        if y is None:
            raise ValueError("SpatialPriceLevel needs the target (log price) to fit")
        values = self._columns(X)
        points, level, located = self._fit(values, y)
        out = np.full((len(values), 2 * len(self.bandwidths_m)), np.nan)
        for band, lattice in enumerate(self.lattices_):
            sums = lattice.read(points)
            own = own_weight(lattice, points)
            out[located, 2 * band : 2 * band + 2] = self._level_support(
                sums[:, 0] - own, sums[:, 1] - own * level
            )
        return out

    def transform(self, X: object) -> np.ndarray:
        """``[n, 2 * len(bandwidths_m)]`` features from every training row."""
        check_is_fitted(self, "lattices_")
        values = self._columns(X)
        points = planar_metres(values[:, 0], values[:, 1])
        located = ~np.isnan(points).any(axis=1)
        out = np.full((len(values), 2 * len(self.bandwidths_m)), np.nan)
        for band, lattice in enumerate(self.lattices_):
            sums = lattice.read(points[located])
            out[located, 2 * band : 2 * band + 2] = self._level_support(sums[:, 0], sums[:, 1])
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``price_level_<h>m`` and ``support_<h>m`` for each bandwidth."""
        names = [
            name for h in self.bandwidths_m for name in (f"price_level_{h:g}m", f"support_{h:g}m")
        ]
        return np.asarray(names, dtype=object)

    def _fit(self, values: np.ndarray, y: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Set the fitted state; return the located points, their levels and the located mask."""
        if not self.bandwidths_m or min(self.bandwidths_m) <= 0 or self.prior_weight <= 0:
            raise ValueError("bandwidths_m must be non-empty and positive, prior_weight positive")
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (len(values),):
            raise ValueError(f"y must have one value per row: {target.shape} for {len(values)}")
        located = ~np.isnan(values[:, :2]).any(axis=1)
        level = target - np.log(values[:, 2])
        points = planar_metres(values[located, 0], values[located, 1])
        self.lattices_ = [build_lattice(points, level[located], h) for h in self.bandwidths_m]
        self.mean_level_ = float(level.mean())
        self.n_located_ = int(located.sum())
        self.n_features_in_ = len(SPATIAL_COLUMNS)
        return points, level[located], located

    def _level_support(self, mass: np.ndarray, weighted: np.ndarray) -> np.ndarray:
        level = (weighted + self.prior_weight * self.mean_level_) / (mass + self.prior_weight)
        return np.column_stack([level, np.log1p(mass)])

    def _columns(self, X: object) -> np.ndarray:
        values = np.asarray(X, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(SPATIAL_COLUMNS):
            raise ValueError(f"SpatialPriceLevel expects the columns {SPATIAL_COLUMNS}")
        return values
