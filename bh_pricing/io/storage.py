"""Read and write files addressed by URI: a local path (or ``file://``) or ``s3://bucket/key``.

S3 goes through boto3, which honours the standard ``AWS_*`` environment (``AWS_ENDPOINT_URL`` for
MinIO or moto). Writes are atomic: a reader never sees half a file. boto3 is imported on the first
s3:// call and its client is kept per process, so the serving handler (which imports this module)
starts fast and never loads boto3 for a local bundle. This module imports no pandas.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# The environment a cached S3 client was built from; a change (tests, moto) builds a new one.
_CLIENT_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
)


class StorageError(IOError):
    """A storage operation failed; the message names the URI and the cause."""


class NotFoundError(StorageError):
    """Nothing exists at the URI."""


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
    loc = parse(base)
    if loc.scheme == "s3":
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(loc.key, *parts))


_client: tuple[tuple[object, ...], Any] | None = None


def s3_client() -> Any:
    """A boto3 S3 client from the standard AWS environment, built once per process."""
    global _client
    key = (os.getpid(), *(os.environ.get(name) for name in _CLIENT_ENV))
    if _client is None or _client[0] != key:
        import boto3

        _client = (key, boto3.client("s3"))
    return _client[1]


def reset_s3_client() -> None:
    """Forget the cached S3 client (credentials and endpoint are read again on next use)."""
    global _client
    _client = None


@contextmanager
def _s3_errors(action: str, uri: str) -> Iterator[None]:
    """Turn botocore errors into StorageError (NotFoundError for a missing key or bucket)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
            raise NotFoundError(f"cannot {action} {uri}: no such object") from exc
        raise StorageError(f"cannot {action} {uri}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"cannot {action} {uri}: {exc}") from exc


@contextmanager
def _local_errors(action: str, uri: str) -> Iterator[None]:
    """Turn OSError into StorageError (NotFoundError for a missing file)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise NotFoundError(f"cannot {action} {uri}: no such file") from exc
    except OSError as exc:
        raise StorageError(f"cannot {action} {uri}: {exc}") from exc


def read_bytes(uri: str) -> bytes:
    """Whole file content; NotFoundError when missing, StorageError when unreadable."""
    loc = parse(uri)
    if loc.scheme == "s3":
        with _s3_errors("read", uri):
            return s3_client().get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
    with _local_errors("read", uri):
        return Path(loc.key).read_bytes()


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` atomically (temp file + rename locally; a single PUT on S3)."""
    loc = parse(uri)
    if loc.scheme == "s3":
        with _s3_errors("write", uri):
            s3_client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
        return
    path = Path(loc.key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
    except OSError as exc:
        raise StorageError(f"cannot write {uri}: {exc}") from exc


def delete(uri: str) -> None:
    """Remove the file at ``uri``; NotFoundError when there is none."""
    loc = parse(uri)
    if loc.scheme == "s3":
        if not exists(uri):
            raise NotFoundError(f"{uri} does not exist")
        with _s3_errors("delete", uri):
            s3_client().delete_object(Bucket=loc.bucket, Key=loc.key)
        return
    with _local_errors("delete", uri):
        Path(loc.key).unlink()


def exists(uri: str) -> bool:
    """True when a file exists at ``uri``."""
    loc = parse(uri)
    if loc.scheme == "file":
        return Path(loc.key).is_file()
    try:
        with _s3_errors("check", uri):
            s3_client().head_object(Bucket=loc.bucket, Key=loc.key)
    except NotFoundError:
        return False
    return True


@dataclass(frozen=True)
class FileInfo:
    """One listed file: what a reader needs to tell whether it changed.

    ``name`` is the path relative to the listed prefix (``/``-separated); ``version`` is the
    modification time in nanoseconds for a local file and the ETag for an S3 object; ``modified``
    is the modification time in seconds since the epoch (S3: ``LastModified``).
    """

    uri: str
    name: str
    size: int
    version: str
    modified: float


def list_file_infos(prefix: str) -> list[FileInfo]:
    """Every file under ``prefix`` (recursively, hidden ones included) with its size and version,
    sorted by name; an absent local folder lists nothing. S3 "folder" keys (ending in ``/``)
    are not files."""
    loc = parse(prefix)
    if loc.scheme == "file":
        root = Path(loc.key)
        if not root.exists():
            return []
        infos = []
        with _local_errors("list", prefix):
            for path in root.rglob("*"):
                if not path.is_file():
                    continue
                stat = path.stat()
                infos.append(
                    FileInfo(
                        str(path),
                        path.relative_to(root).as_posix(),
                        stat.st_size,
                        str(stat.st_mtime_ns),
                        stat.st_mtime,
                    )
                )
        return sorted(infos, key=lambda info: info.name)
    key_prefix = loc.key.rstrip("/") + "/" if loc.key else ""
    infos = []
    with _s3_errors("list", prefix):
        pages = s3_client().get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=loc.bucket, Prefix=key_prefix):
            infos += [
                FileInfo(
                    f"s3://{loc.bucket}/{obj['Key']}",
                    obj["Key"].removeprefix(key_prefix),
                    int(obj["Size"]),
                    str(obj["ETag"]).strip('"'),
                    obj["LastModified"].timestamp(),
                )
                for obj in page.get("Contents", [])
                if not obj["Key"].endswith("/")
            ]
    return sorted(infos, key=lambda info: info.name)


def list_files(prefix: str, suffix: str = "") -> list[str]:
    """URIs of files under ``prefix`` (recursively) ending with ``suffix``, sorted; local files
    whose name starts with ``.`` (temporary files of atomic writes) are left out."""
    loc = parse(prefix)
    return [
        info.uri
        for info in list_file_infos(prefix)
        if info.name.endswith(suffix)
        and not (loc.scheme == "file" and info.name.rsplit("/", 1)[-1].startswith("."))
    ]
