"""Minimal read/write of files addressed by a local path or ``s3://bucket/key``, for the runtime.

Unlike ``bh_pricing.io.storage`` it imports boto3 only when an s3:// URI is used, so a handler that
reads a local bundle starts without it (and the Lambda package does not need the rest of
bh_pricing).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class BlobError(OSError):
    """A read or write failed; the message names the URI and the cause."""


class BlobNotFoundError(BlobError):
    """Nothing exists at the URI."""


_client: Any = None


def _s3() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("s3")
    return _client


def reset_s3_client() -> None:
    """Forget the cached S3 client (its credentials and endpoint are read again on next use)."""
    global _client
    _client = None


def split_s3(uri: str) -> tuple[str, str]:
    """Bucket and key of an ``s3://`` URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise BlobError(f"{uri}: an s3:// URI needs a bucket name")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join path parts onto a local or s3:// base."""
    if base.startswith("s3://"):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base.removeprefix("file://"), *parts))


def read_bytes(uri: str) -> bytes:
    """Whole content of the file at ``uri``; BlobNotFoundError when it does not exist."""
    if not uri.startswith("s3://"):
        path = Path(uri.removeprefix("file://"))
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"{uri}: no such file") from exc
        except OSError as exc:
            raise BlobError(f"cannot read {uri}: {exc}") from exc
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3(uri)
    try:
        return _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
            raise BlobNotFoundError(f"{uri}: no such object") from exc
        raise BlobError(f"cannot read {uri}: {exc}") from exc
    except BotoCoreError as exc:
        raise BlobError(f"cannot read {uri}: {exc}") from exc


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` atomically: temp file + rename locally, a single PUT on S3."""
    if not uri.startswith("s3://"):
        path = Path(uri.removeprefix("file://"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as tmp:
                tmp.write(data)
            os.replace(tmp.name, path)
        except OSError as exc:
            raise BlobError(f"cannot write {uri}: {exc}") from exc
        return
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3(uri)
    try:
        _s3().put_object(Bucket=bucket, Key=key, Body=data)
    except (ClientError, BotoCoreError) as exc:
        raise BlobError(f"cannot write {uri}: {exc}") from exc
