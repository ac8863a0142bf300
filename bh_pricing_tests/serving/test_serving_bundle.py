"""Export, verification and publication of ONNX bundles; parity with scikit-learn per candidate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.core import comparables, spatial
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.core.models import CANDIDATES, split_features_target
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.serving import bundle as bundle_module
from bh_pricing.serving.bundle import BundleCheckError, ParityReport
from bh_pricing.serving.manifest import CURRENT_FILE, MANIFEST_FILE, MODEL_FILE, Manifest
from bh_pricing.serving.runtime import BundleError, load_bundle, read_current


def _edge_cases(listings: pd.DataFrame) -> pd.DataFrame:
    """Real rows plus unknown neighborhoods and missing coordinates."""
    frame = listings.loc[:, list(FEATURE_COLUMNS)].head(200).copy()
    frame.loc[:19, "neighborhood"] = ["Atlântida", "Nowhere", "savassi", " ", "Bairro Novo"] * 4
    frame.loc[20:39, ["latitude", "longitude"]] = np.nan
    frame.loc[40:49, "latitude"] = np.nan
    return frame


@pytest.mark.parametrize(
    "name", ["baseline", "ridge", "ridge_infrequent", "gradient_boosting", "comparables"]
)
def test_onnx_matches_sklearn_for_every_candidate_type(
    name: str, fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    # given a fitted candidate exported as a bundle
    estimator = fitted[name]
    exported = export(estimator, str(tmp_path), listings)
    # when the bundle prices real rows, unknown neighborhoods and missing coordinates
    frame = _edge_cases(listings)
    served = load_bundle(str(tmp_path))
    actual = served.predict_columns({c: frame[c].tolist() for c in FEATURE_COLUMNS})
    expected = estimator.predict(frame)
    # then every price is within 0.1 % of scikit-learn's
    relative = np.abs(actual - expected) / expected
    assert relative.max() < 1e-3, f"{name}: max relative error {relative.max():.2e}"
    assert exported.parity is not None
    assert exported.parity.passed
    assert np.isfinite(actual).all()


def test_infrequent_fixture_really_has_infrequent_categories(fitted: dict[str, Any]) -> None:
    encoder = (
        fitted["ridge_infrequent"]
        .regressor_.named_steps["features"]
        .named_transformers_["neighborhood"]
    )
    assert encoder.infrequent_categories_[0] is not None, "expected infrequent neighborhoods"


def test_manifest_records_origin_schema_and_checksums(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    exported = export(fitted["ridge"], str(tmp_path), listings)
    manifest = Manifest.model_validate_json(Path(exported.uri, MANIFEST_FILE).read_bytes())
    assert manifest.model_version == "7"
    assert manifest.run_id == "0123abcd"
    assert manifest.test_metrics == {"rmse": 123456.0, "mape": 0.12}
    assert manifest.target_transform == "exp"
    assert manifest.estimator == "TransformedTargetRegressor(Ridge)"
    assert [f.name for f in manifest.input_schema.features] == list(FEATURE_COLUMNS)
    assert manifest.input_schema.known_neighborhoods == sorted(listings["neighborhood"].unique())
    assert manifest.created_at.endswith("+00:00")
    model = Path(exported.uri, MODEL_FILE).read_bytes()
    assert manifest.files[MODEL_FILE].bytes == len(model)


def test_current_pointer_is_written_last_and_names_the_bundle(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    first = export(fitted["baseline"], str(tmp_path), listings, model_version="1")
    second = export(fitted["ridge"], str(tmp_path), listings, model_version="2")
    pointer = read_current(str(tmp_path))
    assert pointer is not None
    assert pointer.model_version == "2"
    assert Path(tmp_path, pointer.bundle) == Path(second.uri)
    assert Path(first.uri, MODEL_FILE).is_file(), "older bundles stay for rollback"
    assert load_bundle(str(tmp_path)).manifest.model_version == "2"


def test_bundle_failing_parity_is_never_published(
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    tmp_path: Path,
    export: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a published bundle
    export(fitted["baseline"], str(tmp_path), listings, model_version="1")
    before = Path(tmp_path, CURRENT_FILE).read_bytes()
    # when the next export fails its parity check
    failing = ParityReport(rows=10, max_relative_error=0.5, mean_relative_error=0.1, tolerance=1e-3)
    monkeypatch.setattr(bundle_module, "check_parity", lambda *a, **k: failing)
    with pytest.raises(BundleCheckError, match="not published"):
        export(fitted["ridge"], str(tmp_path), listings, model_version="2")
    # then current.json still points at the previous bundle
    assert Path(tmp_path, CURRENT_FILE).read_bytes() == before
    assert load_bundle(str(tmp_path)).manifest.model_version == "1"


def test_unpublished_export_leaves_no_pointer(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    exported = export(fitted["baseline"], str(tmp_path), listings, publish=False)
    assert read_current(str(tmp_path)) is None
    assert load_bundle(exported.uri).manifest.model_version == "7"


def test_tampered_model_is_rejected(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    exported = export(fitted["baseline"], str(tmp_path), listings)
    model = Path(exported.uri, MODEL_FILE)
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    with pytest.raises(BundleError, match="sha256 does not match"):
        load_bundle(str(tmp_path))


def test_manifest_swapped_under_pointer_is_rejected(
    fitted: dict[str, Any], listings: pd.DataFrame, tmp_path: Path, export: Any
) -> None:
    exported = export(fitted["baseline"], str(tmp_path), listings)
    manifest_file = Path(exported.uri, MANIFEST_FILE)
    manifest = json.loads(manifest_file.read_text())
    manifest["model_version"] = "99"
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="manifest checksum differs"):
        load_bundle(str(tmp_path))


def test_missing_bundle_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"manifest\.json: no such file"):
        load_bundle(str(tmp_path / "nothing-here"))


def test_the_bundle_does_not_grow_with_the_training_rows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, export: Any
) -> None:
    # given size caps that bind well below the training rows, and two training sets 4x apart
    monkeypatch.setattr(spatial, "MAX_NODES", 6 * spatial.BLOCK**2)
    monkeypatch.setattr(comparables, "MAX_ENTRIES", 60)
    sizes, largest = [], []
    for n, seed in ((800, 5), (3_200, 6)):
        listings = clean_listings(generate_raw_listings(n, seed=seed)).clean
        X, y = split_features_target(listings)
        with threadpool_limits(1):
            model = CANDIDATES["comparables"].build(max_iter=20).fit(X, y)
        assert model.regressor_.dropped_rows_ > 0, "the entries cap should bind"
        # when each model is exported (parity checked on its training rows and far-away rows)
        far = listings.assign(latitude=listings["latitude"] - 0.4).head(50)
        exported = export(model, str(tmp_path / str(n)), pd.concat([listings, far]))
        assert exported.parity is not None
        assert exported.parity.passed
        graph = onnx.load(Path(exported.uri) / MODEL_FILE).graph
        sizes.append((Path(exported.uri) / MODEL_FILE).stat().st_size)
        largest.append(max(int(np.prod(t.dims)) for t in graph.initializer))
    # then no constant holds more than the caps allow, and the bundle barely moves with n
    assert max(largest) <= max(6 * spatial.BLOCK**2 * 2, (60 + comparables.MAX_PER_CELL) * 8), (
        largest
    )
    assert sizes[1] < 1.25 * sizes[0], sizes
