"""Read and write files addressed by URI: a local path or ``s3://bucket/key``.

S3 goes through boto3, which honours the standard ``AWS_*`` environment (``AWS_ENDPOINT_URL`` for
MinIO or moto). Writes are atomic: a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import BotoCoreError, ClientError


class StorageError(IOError):
    """A storage operation failed; the message names the URI and the cause."""


@dataclass(frozen=True)
class Location:
    """A parsed URI: ``scheme`` is ``s3`` or ``file``."""

    scheme: str
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """The URI again, normalised."""
        return f"s3://{self.bucket}/{self.key}" if self.scheme == "s3" else self.key


def parse(uri: str | os.PathLike[str]) -> Location:
    """Split a URI into scheme, bucket and key (a local path has no bucket)."""
    text = str(uri)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StorageError(f"{text}: an s3:// URI needs a bucket name")
        return Location("s3", parsed.netloc, parsed.path.lstrip("/"))
    if parsed.scheme in ("", "file"):
        return Location("file", "", parsed.path if parsed.scheme == "file" else text)
    raise StorageError(f"{text}: unsupported scheme {parsed.scheme!r} (use a path or s3://)")


def join(base: str, *parts: str) -> str:
    """Join path parts onto a local or s3:// base."""
    if parse(base).scheme == "s3":
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def s3_client() -> Any:
    """A boto3 S3 client from the standard AWS environment."""
    return boto3.client("s3")


def read_bytes(uri: str) -> bytes:
    """Whole file content; StorageError names the URI when it is missing or unreadable."""
    loc = parse(uri)
    try:
        if loc.scheme == "s3":
            return s3_client().get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
        return Path(loc.key).read_bytes()
    except (OSError, ClientError, BotoCoreError) as exc:
        raise StorageError(f"cannot read {uri}: {exc}") from exc


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` atomically (temp file + rename locally; a single PUT on S3)."""
    loc = parse(uri)
    try:
        if loc.scheme == "s3":
            s3_client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
            return
        path = Path(loc.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except (OSError, ClientError, BotoCoreError) as exc:
        raise StorageError(f"cannot write {uri}: {exc}") from exc


def exists(uri: str) -> bool:
    """True when a file exists at ``uri``."""
    loc = parse(uri)
    if loc.scheme == "file":
        return Path(loc.key).is_file()
    try:
        s3_client().head_object(Bucket=loc.bucket, Key=loc.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise StorageError(f"cannot check {uri}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot check {uri}: {exc}") from exc
    return True


def list_files(prefix: str, suffix: str = "") -> list[str]:
    """URIs of files under ``prefix`` (recursively) ending with ``suffix``, sorted."""
    loc = parse(prefix)
    try:
        if loc.scheme == "file":
            root = Path(loc.key)
            if not root.exists():
                return []
            return sorted(
                str(p)
                for p in root.rglob(f"*{suffix}")
                if p.is_file() and not p.name.startswith(".")
            )
        keys: list[str] = []
        pages = s3_client().get_paginator("list_objects_v2")
        key_prefix = loc.key.rstrip("/") + "/" if loc.key else ""
        for page in pages.paginate(Bucket=loc.bucket, Prefix=key_prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix)]
        return sorted(f"s3://{loc.bucket}/{k}" for k in keys)
    except (OSError, ClientError, BotoCoreError) as exc:
        raise StorageError(f"cannot list {prefix}: {exc}") from exc
