"""The MLflow Model Registry side of bh-pricing: champion lookup, registration, aliases.

Also a small command line for people: ``python -m bh_pricing.io.registry show|promote <version>``,
which exits with 1 and a message on stderr when the registry is in a state it cannot use (an
alias pointing to a missing version, an unknown version) or MLflow cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

import dagster as dg
import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing.resources import build_resources

_NOT_FOUND = ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
_ALREADY_EXISTS = ErrorCode.Name(RESOURCE_ALREADY_EXISTS)


class RegistryStateError(RuntimeError):
    """The registry holds something bh-pricing cannot act on; the message says what."""


class DanglingAliasError(RegistryStateError):
    """An alias points to a model version that does not exist (deleted outside bh-pricing)."""

    def __init__(self, name: str, alias: str, version: str) -> None:
        self.name, self.alias, self.version = name, alias, version
        super().__init__(
            f"alias {alias!r} of registered model {name!r} points to version {version}, which "
            f"does not exist. Set it to an existing version (python -m bh_pricing.io.registry "
            f"promote <version>, for {CHAMPION_ALIAS!r}) or delete the alias."
        )


class UnknownVersionError(RegistryStateError):
    """A version asked for by number does not exist."""


def _version(client: MlflowClient, name: str, version: str) -> ModelVersion | None:
    """Version ``version`` of ``name``, or None when it does not exist."""
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code == _NOT_FOUND:
            return None
        raise


def version_by_alias(
    client: MlflowClient, alias: str, name: str = REGISTERED_MODEL_NAME
) -> ModelVersion | None:
    """The version holding ``alias``, or None when the model or the alias does not exist yet.

    Raises DanglingAliasError when the alias points to a version that does not exist: that is
    not "no champion", so no caller may promote without a comparison. MLflow errors (an
    unreachable server) propagate as MlflowException.
    """
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == _NOT_FOUND:
            return None
        raise
    held = model.aliases.get(alias)
    if held is None:
        return None
    version = _version(client, name, str(held))
    if version is None:
        raise DanglingAliasError(name, alias, str(held))
    return version


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
        _create_registered_model(client, name)
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


def _create_registered_model(client: MlflowClient, name: str) -> None:
    """Create ``name``; another process creating it at the same moment is not an error."""
    try:
        client.create_registered_model(
            name, description="Belo Horizonte house prices (BRL). Aliases: champion, challenger."
        )
    except MlflowException as exc:
        if exc.error_code != _ALREADY_EXISTS:
            raise


def promote(client: MlflowClient, version: str, name: str = REGISTERED_MODEL_NAME) -> None:
    """Make ``version`` the champion (and drop its ``challenger`` alias if it held it).

    This is the people's decision, so it needs no comparison and repairs a dangling
    ``champion``. Raises UnknownVersionError for a missing version and DanglingAliasError when
    ``challenger`` dangles; nothing is changed then.
    """
    target = _version(client, name, version)
    if target is None:
        raise UnknownVersionError(f"registered model {name!r} has no version {version}")
    challenger = version_by_alias(client, CHALLENGER_ALIAS, name)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, target.version)
    client.set_model_version_tag(name, target.version, "promoted_by", "manual")
    if challenger is not None and challenger.version == target.version:
        client.delete_registered_model_alias(name, CHALLENGER_ALIAS)


def main(argv: list[str] | None = None) -> int:
    """``promote <version>`` or ``show``: manage the champion alias of ``bh-pricing``."""
    parser = argparse.ArgumentParser(prog="python -m bh_pricing.io.registry")
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: the deployment's, as the pipeline uses it: "
        "MLFLOW_TRACKING_URI, or locally sqlite:///$BH_PRICING_HOME/mlflow/mlflow.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    promote_cmd = commands.add_parser("promote", help="make a version the champion")
    promote_cmd.add_argument("version")
    commands.add_parser("show", help="print the champion and challenger versions")
    args = parser.parse_args(argv)
    try:
        client = _client(args.tracking_uri)
    except dg.DagsterInvalidConfigError as exc:
        print(f"error: the deployment's MLflow settings: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "promote":
            promote(client, args.version)
        return _show(client)
    except RegistryStateError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except MlflowException as exc:
        print(f"error: MLflow at {mlflow.get_tracking_uri()} failed: {exc}", file=sys.stderr)
    return 1


def _client(tracking_uri: str | None) -> MlflowClient:
    """A client of ``tracking_uri``, or of the MLflow the deployment's resources point at
    (``build_resources``), so the command reads the registry the pipeline writes to."""
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        return MlflowClient()
    with dg.build_resources({"mlflow": build_resources()["mlflow"]}) as resources:
        return resources.mlflow.client()


def _show(client: MlflowClient) -> int:
    """Print each alias's version (stdout) or why it is unusable (stderr); 1 if any is."""
    status = 0
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        try:
            held = version_by_alias(client, alias)
        except DanglingAliasError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{alias}: {'-' if held is None else f'version {held.version} ({held.source})'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
