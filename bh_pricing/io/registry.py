"""The MLflow Model Registry side of bh-pricing: champion lookup, registration, aliases.

Also a small command line for people: ``python -m bh_pricing.io.registry promote <version>``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME

_NOT_FOUND = ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)


def version_by_alias(
    client: MlflowClient, alias: str, name: str = REGISTERED_MODEL_NAME
) -> ModelVersion | None:
    """The version holding ``alias``, or None when the model or alias does not exist yet."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code == _NOT_FOUND or "not found" in str(exc).lower():
            return None
        raise


def register(
    client: MlflowClient,
    model_uri: str,
    tags: Mapping[str, str],
    name: str = REGISTERED_MODEL_NAME,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name`` (created on first use).

    A logged model (``models:/m-...``) is registered with its ``model_id`` and source run, as an
    MLflow tracking server requires.
    """
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != _NOT_FOUND:
            raise
        client.create_registered_model(
            name, description="Belo Horizonte house prices (BRL). Aliases: champion, challenger."
        )
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    if model_id is not None:
        run_id = client.get_logged_model(model_id).source_run_id
    else:
        run_id = model_uri.split("/")[1] if model_uri.startswith("runs:/") else None
    return client.create_model_version(
        name,
        source=model_uri,
        run_id=run_id,
        tags={k: str(v) for k, v in tags.items()},
        model_id=model_id,
    )


def promote(client: MlflowClient, version: str, name: str = REGISTERED_MODEL_NAME) -> None:
    """Make ``version`` the champion (and drop its ``challenger`` alias if it held it)."""
    target = client.get_model_version(name, version)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, target.version)
    client.set_model_version_tag(name, target.version, "promoted_by", "manual")
    challenger = version_by_alias(client, CHALLENGER_ALIAS, name)
    if challenger is not None and challenger.version == target.version:
        client.delete_registered_model_alias(name, CHALLENGER_ALIAS)


def main(argv: list[str] | None = None) -> int:
    """``promote <version>`` or ``show``: manage the champion alias of ``bh-pricing``."""
    parser = argparse.ArgumentParser(prog="python -m bh_pricing.io.registry")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    commands = parser.add_subparsers(dest="command", required=True)
    promote_cmd = commands.add_parser("promote", help="make a version the champion")
    promote_cmd.add_argument("version")
    commands.add_parser("show", help="print the champion and challenger versions")
    args = parser.parse_args(argv)
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient()
    if args.command == "promote":
        promote(client, args.version)
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        held = version_by_alias(client, alias)
        print(f"{alias}: {'-' if held is None else f'version {held.version} ({held.source})'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
