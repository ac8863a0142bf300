"""The local price level: kernel means of log price per m², never containing a row's own price."""

import numpy as np
import pytest

from bh_pricing.core import spatial as spatial_module
from bh_pricing.core.spatial import METRES_PER_DEGREE, SpatialPriceLevel, planar_metres

LATITUDE, LONGITUDE = -19.92, -43.94


def _rows(points: list[tuple[float, float, float]]) -> np.ndarray:
    """``[n, 3]`` features from (metres north of the centre, area, price per m²) tuples."""
    return np.array(
        [[LATITUDE + north / METRES_PER_DEGREE, LONGITUDE, area] for north, area, _ in points]
    )


def _log_prices(points: list[tuple[float, float, float]]) -> np.ndarray:
    return np.array([np.log(area * per_m2) for _, area, per_m2 in points])


# Two flats at the same address (10 and 30 thousand per m²) and one 50 km away.
TWIN_POINTS = [(0.0, 100.0, 10_000.0), (0.0, 50.0, 30_000.0), (50_000.0, 80.0, 5_000.0)]


def test_a_training_row_is_left_out_of_its_own_level():
    # given two flats at one address and a far one, with a negligible prior
    X, y = _rows(TWIN_POINTS), _log_prices(TWIN_POINTS)
    spatial = SpatialPriceLevel(bandwidths_m=(100.0,), prior_weight=1e-9)
    # when the training rows are transformed as a pipeline fits them
    features = spatial.fit_transform(X, y)
    # then each twin's level is the other twin's price per m², and its support one listing
    # (the lattice reads a point back with at most 1 % less weight than the exact kernel)
    assert np.exp(features[0, 0]) == pytest.approx(30_000.0)
    assert np.exp(features[1, 0]) == pytest.approx(10_000.0)
    assert features[0, 1] == pytest.approx(np.log(2.0), rel=1e-2)


def test_a_new_listing_sees_every_training_row():
    X, y = _rows(TWIN_POINTS), _log_prices(TWIN_POINTS)
    spatial = SpatialPriceLevel(bandwidths_m=(100.0,), prior_weight=1e-9).fit(X, y)
    features = spatial.transform(_rows([(0.0, 70.0, 0.0)]))
    assert np.exp(features[0, 0]) == pytest.approx(np.sqrt(10_000.0 * 30_000.0))
    assert features[0, 1] == pytest.approx(np.log(3.0), rel=1e-2)


def test_a_row_s_own_price_does_not_change_its_training_features():
    rng = np.random.default_rng(0)
    points = [
        (rng.uniform(0, 2_000), rng.uniform(40, 200), rng.uniform(4e3, 12e3)) for _ in range(50)
    ]
    X, y = _rows(points), _log_prices(points)
    changed = y.copy()
    changed[7] += 1.5
    before = SpatialPriceLevel().fit_transform(X, y)
    after = SpatialPriceLevel().fit_transform(X, changed)
    # only the prior's overall mean moves (by 1.5 / 50 x prior share), nothing else
    np.testing.assert_allclose(after[7], before[7], atol=1.5 / 50)
    assert np.abs(after[8] - before[8]).max() > 1e-3


def brute_force(
    X: np.ndarray, y: np.ndarray, query: np.ndarray, h: float, prior: float, leave_one_out: bool
) -> np.ndarray:
    """Reference: the untruncated kernel over every training row, ``[n, 2]`` level and support."""
    train = planar_metres(X[:, 0], X[:, 1])
    points = planar_metres(query[:, 0], query[:, 1])
    distance2 = ((points[:, None, :] - train[None, :, :]) ** 2).sum(axis=2)
    weights = np.exp(-distance2 / (2 * h * h))
    if leave_one_out:
        np.fill_diagonal(weights, 0.0)
    levels = y - np.log(X[:, 2])
    mass = weights.sum(axis=1)
    level = (weights @ levels + prior * levels.mean()) / (mass + prior)
    return np.column_stack([level, np.log1p(mass)])


def _city(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` listings scattered over a few km with a smooth price gradient plus noise."""
    rng = np.random.default_rng(seed)
    north, east = rng.normal(0, 1_500, n), rng.normal(0, 1_500, n)
    X = np.column_stack(
        [
            LATITUDE + north / METRES_PER_DEGREE,
            LONGITUDE + east / spatial_module.METRES_PER_DEGREE_EAST,
            rng.uniform(40, 250, n),
        ]
    )
    y = np.log(X[:, 2]) + 9.0 + north / 5_000 + rng.normal(0, 0.2, n)
    return X, y


@pytest.mark.parametrize(
    ("n", "seed", "bandwidths"), [(400, 0, (200.0, 800.0)), (900, 1, (150.0,))]
)
def test_the_lattice_matches_the_brute_force_kernel(n, seed, bandwidths):
    # given listings over a few km (the 3-bandwidth cut-off removes < 1.2 % of any weight)
    X, y = _city(n, seed)
    query, _ = _city(200, seed + 100)
    spatial = SpatialPriceLevel(bandwidths_m=bandwidths)
    # when the training rows (left out of their own level) and new rows are transformed
    training = spatial.fit_transform(X, y)
    new = spatial.transform(query)
    # then both equal the all-pairs kernel: level within 0.01 log, kernel mass within 2 % (and
    # 0.3 listing: the cut-off drops the far rows' weights, each below exp(-4.5) ≈ 0.011)
    for band, h in enumerate(bandwidths):
        columns = slice(2 * band, 2 * band + 2)
        for got, exact in (
            (training[:, columns], brute_force(X, y, X, h, 1.0, leave_one_out=True)),
            (new[:, columns], brute_force(X, y, query, h, 1.0, leave_one_out=False)),
        ):
            np.testing.assert_allclose(got[:, 0], exact[:, 0], atol=0.01)
            np.testing.assert_allclose(
                np.expm1(got[:, 1]), np.expm1(exact[:, 1]), rtol=0.02, atol=0.3
            )


def test_changing_a_row_s_own_price_leaves_its_own_feature_unchanged():
    X, y = _city(300, 3)
    changed = y.copy()
    changed[11] += 2.0
    spatial = SpatialPriceLevel(bandwidths_m=(200.0, 800.0), prior_weight=1e-9)
    before = spatial.fit_transform(X, y)
    after = SpatialPriceLevel(bandwidths_m=(200.0, 800.0), prior_weight=1e-9).fit_transform(
        X, changed
    )
    # float32 node sums: the own contribution cancels to about 1e-6 in log price per m²
    np.testing.assert_allclose(after[11], before[11], atol=1e-5)
    assert np.abs(after - before).max() > 1e-3, "its neighbours do see the new price"


def test_the_fitted_state_does_not_grow_with_the_rows(monkeypatch):
    # given a node cap far below what the finest lattice needs
    monkeypatch.setattr(spatial_module, "MAX_NODES", 4 * spatial_module.BLOCK**2)
    small, large = _city(200, 4), _city(5_000, 5)
    sizes = []
    for X, y in (small, large):
        spatial = SpatialPriceLevel(bandwidths_m=(200.0,)).fit(X, y)
        (lattice,) = spatial.lattices_
        sizes.append(lattice.n_nodes)
        # then the spacing grows instead, and the lattice stays within the cap
        assert lattice.n_nodes <= spatial_module.MAX_NODES
        assert lattice.spacing_m > 200.0 / spatial_module.NODES_PER_BANDWIDTH
        assert np.isfinite(spatial.transform(X)).all()
    assert sizes[1] <= spatial_module.MAX_NODES


def test_without_any_coordinates_every_level_is_the_overall_mean():
    X, y = _rows(TWIN_POINTS), _log_prices(TWIN_POINTS)
    X[:, :2] = np.nan
    spatial = SpatialPriceLevel(bandwidths_m=(100.0,)).fit(X, y)
    features = spatial.transform(_rows([(0.0, 70.0, 0.0)]))
    assert features[0, 0] == pytest.approx(spatial.mean_level_)
    assert features[0, 1] == 0.0


def test_far_from_every_listing_the_level_is_the_overall_mean():
    X, y = _rows(TWIN_POINTS), _log_prices(TWIN_POINTS)
    spatial = SpatialPriceLevel(bandwidths_m=(100.0,)).fit(X, y)
    features = spatial.transform(_rows([(20_000.0, 60.0, 0.0)]))
    assert features[0, 0] == pytest.approx(spatial.mean_level_)
    assert features[0, 1] == pytest.approx(0.0)


def test_listings_without_coordinates_get_missing_features_and_are_not_references():
    points = [*TWIN_POINTS, (0.0, 90.0, 1_000_000.0)]
    X, y = _rows(points), _log_prices(points)
    X[3, :2] = np.nan
    spatial = SpatialPriceLevel(bandwidths_m=(100.0, 500.0), prior_weight=1e-9)
    features = spatial.fit_transform(X, y)
    assert np.isnan(features[3]).all()
    assert spatial.n_located_ == 3
    assert np.exp(features[0, 0]) == pytest.approx(30_000.0)
    assert features.shape == (4, 4)


def test_feature_names_name_each_bandwidth():
    names = SpatialPriceLevel(bandwidths_m=(200.0, 800.0)).get_feature_names_out()
    assert list(names) == ["price_level_200m", "support_200m", "price_level_800m", "support_800m"]


def test_planar_metres_measures_a_degree_of_latitude():
    north, _ = planar_metres(np.array([LATITUDE + 1.0]), np.array([LONGITUDE]))[0]
    reference, _ = planar_metres(np.array([LATITUDE]), np.array([LONGITUDE]))[0]
    assert north - reference == pytest.approx(111_195, rel=1e-4)


@pytest.mark.parametrize(
    ("spatial", "X", "y", "message"),
    [
        (SpatialPriceLevel(bandwidths_m=(0.0,)), _rows(TWIN_POINTS), np.zeros(3), "bandwidths_m"),
        (SpatialPriceLevel(bandwidths_m=()), _rows(TWIN_POINTS), np.zeros(3), "bandwidths_m"),
        (SpatialPriceLevel(prior_weight=0.0), _rows(TWIN_POINTS), np.zeros(3), "prior_weight"),
        (SpatialPriceLevel(), _rows(TWIN_POINTS)[:, :2], np.zeros(3), "square_foot"),
        (SpatialPriceLevel(), _rows(TWIN_POINTS), np.zeros(2), "one value per row"),
        (SpatialPriceLevel(), _rows(TWIN_POINTS), None, "needs the target"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(spatial, X, y, message):
    with pytest.raises(ValueError, match=message):
        spatial.fit_transform(X, y)
