"""``serving_bundle``: the MLflow champion exported as an ONNX bundle, published after parity.

The asset always serves the champion alias, whatever ``champion_model`` decided in this run. When
``current.json`` already points at a bundle of the champion version (the usual case after a run
that produced a challenger), nothing is re-exported: the published bundle is checked for parity on
this run's ``test_listings`` again and the metadata says why it was kept. Otherwise (first run, new
champion, manual promotion, ``force_export``) a new bundle folder is written under
``Locations.bundles_uri()``, and ``current.json`` is switched to it only when the blocking
``bundle_parity`` check passes; a failing bundle stays unpublished and the run fails.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from bh_pricing.constants import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, SERVING
from bh_pricing.io import registry, storage
from bh_pricing.io.model_logging import load_pricing_model
from bh_pricing.lifecycle import ChampionResult
from bh_pricing.resources import Locations, MlflowTracking
from bh_pricing.serving.bundle import (
    PARITY_TOLERANCE,
    ParityReport,
    check_parity,
    export_bundle,
    known_categories,
    publish_bundle,
)
from bh_pricing.serving.manifest import MANIFEST_FILE, MODEL_FILE, CurrentPointer, Manifest
from bh_pricing.serving.runtime import read_current, sha256

BUNDLE_PARITY = "bundle_parity"


class ServingBundleConfig(dg.Config):
    """Export even when the champion's bundle is already published."""

    force_export: bool = Field(default=False, description="Write a new bundle folder anyway")


@dg.asset(
    group_name=SERVING,
    kinds={"onnx"},
    check_specs=[
        dg.AssetCheckSpec(
            BUNDLE_PARITY,
            asset="serving_bundle",
            blocking=True,
            description=(
                "The bundle's prices equal the MLflow champion's on test_listings "
                f"within {PARITY_TOLERANCE:.1%} relative error; only then is it published."
            ),
        )
    ],
)
def serving_bundle(
    context: dg.AssetExecutionContext,
    config: ServingBundleConfig,
    mlflow: MlflowTracking,
    locations: Locations,
    champion_model: ChampionResult,
    test_listings: pd.DataFrame,
) -> dg.MaterializeResult:
    """Export the champion to ``Locations.bundles_uri()`` and publish it once parity holds."""
    client = mlflow.client()
    champion = registry.version_by_alias(client, CHAMPION_ALIAS)
    if champion is None:
        raise dg.Failure(
            f"{REGISTERED_MODEL_NAME} has no {CHAMPION_ALIAS!r} alias: nothing to serve"
        )
    estimator, interval = load_pricing_model(f"models:/{REGISTERED_MODEL_NAME}/{champion.version}")
    root = locations.bundles_uri()
    current = read_current(root)
    reuse = (
        current is not None
        and current.model_version == str(champion.version)
        and not config.force_export
    )
    if reuse:
        uri = storage.join(root, current.bundle)
        action = f"kept: v{champion.version} is already published, nothing to export"
    else:
        run = client.get_run(champion.run_id)
        test_metrics = {
            k.removeprefix("test_"): v for k, v in run.data.metrics.items() if k.startswith("test_")
        }
        exported = export_bundle(
            estimator,
            root,
            model_version=str(champion.version),
            run_id=champion.run_id,
            test_metrics=test_metrics,
            known_neighborhoods=known_categories(estimator, "neighborhood"),
            interval=interval,
            publish=False,
        )
        uri = exported.uri
        action = f"exported v{champion.version}"
    parity = check_parity(estimator, uri, test_listings)
    pointer = current if reuse else None
    if parity.passed and not reuse:
        pointer = publish_bundle(root, uri)
    published = parity.passed or reuse
    if not parity.passed:
        action += "; parity FAILED" + ("" if reuse else ", not published: current.json unchanged")
    context.log.info(f"serving bundle {uri}: {action}")
    moved = champion_model.alias == CHAMPION_ALIAS
    return dg.MaterializeResult(
        metadata={
            "uri": uri,
            "root": root,
            "published": published,
            "published_this_run": parity.passed and not reuse,
            "pointer": _pointer_metadata(pointer),
            "previous_pointer": _pointer_metadata(current),
            "action": action,
            "champion_moved_this_run": moved,
            "note": (
                "champion alias moved to this run's model"
                if moved
                else f"this run's v{champion_model.version} is {champion_model.alias}; "
                f"the bundle serves the champion v{champion.version}"
            ),
            **_bundle_metadata(uri),
            **_parity_metadata(parity),
            **mlflow.run_link(champion.run_id, mlflow.experiment_id()),
            **mlflow.model_version_link(REGISTERED_MODEL_NAME, str(champion.version)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=BUNDLE_PARITY,
                passed=parity.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"uri": uri, **_parity_metadata(parity)},
                description=(
                    None
                    if parity.passed
                    else f"max relative error {parity.max_relative_error:.2e} exceeds "
                    f"{parity.tolerance:.1e}: bundle not published"
                ),
            )
        ],
    )


def _bundle_metadata(uri: str) -> dict[str, object]:
    """Version, run, checksums and size of the bundle at ``uri``, read from its manifest."""
    manifest_bytes = storage.read_bytes(storage.join(uri, MANIFEST_FILE))
    manifest = Manifest.model_validate_json(manifest_bytes)
    model = manifest.files[MODEL_FILE]
    return {
        "model_version": manifest.model_version,
        "run_id": manifest.run_id,
        "estimator": manifest.estimator,
        "interval": (
            "none"
            if manifest.prediction_interval is None
            else dg.MetadataValue.json(manifest.prediction_interval.model_dump())
        ),
        "model_sha256": model.sha256,
        "manifest_sha256": sha256(manifest_bytes),
        "size_bytes": model.bytes + len(manifest_bytes),
    }


def _pointer_metadata(pointer: CurrentPointer | None) -> dg.MetadataValue:
    """A ``current.json`` content as JSON metadata (``{}``: no pointer)."""
    return dg.MetadataValue.json({} if pointer is None else pointer.model_dump())


def _parity_metadata(parity: ParityReport) -> dict[str, object]:
    return {
        "parity_rows": parity.rows,
        "parity_max_relative_error": parity.max_relative_error,
        "parity_mean_relative_error": parity.mean_relative_error,
        "parity_tolerance": parity.tolerance,
    }
