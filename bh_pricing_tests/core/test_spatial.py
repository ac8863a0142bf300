"""The local price level: kernel means of log price per m², never containing a row's own price."""

import numpy as np
import pytest

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
    assert np.exp(features[0, 0]) == pytest.approx(30_000.0)
    assert np.exp(features[1, 0]) == pytest.approx(10_000.0)
    assert features[0, 1] == pytest.approx(np.log(2.0))


def test_a_new_listing_sees_every_training_row():
    X, y = _rows(TWIN_POINTS), _log_prices(TWIN_POINTS)
    spatial = SpatialPriceLevel(bandwidths_m=(100.0,), prior_weight=1e-9).fit(X, y)
    features = spatial.transform(_rows([(0.0, 70.0, 0.0)]))
    assert np.exp(features[0, 0]) == pytest.approx(np.sqrt(10_000.0 * 30_000.0))
    assert features[0, 1] == pytest.approx(np.log(3.0))


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
    assert len(spatial.reference_) == 3
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
