"""Intake rules of the landing location: which landed files are complete, new market batches.

A batch is a CSV (extension in any case) under the landing location, identified by its path and
its content: partition key ``<path>@<first 12 hex digits of its sha256>``, so new content under
an old name is a new batch and the same content is taken once, whatever its name. A file is taken
only when complete: its size and version (local modification time, S3 ETag) unchanged across two
observations, or a completion marker ``<path>.done`` not older than the file. Hidden files and
folders (a path part starting with ``.`` or ``_``) are skipped. Every file not taken gets a reason.

The observations and the content hashes already taken live in an :class:`IntakeCursor` (JSON);
``plan_intake`` is a plain function of a listing, that cursor and the keys already registered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from bh_pricing.io.storage import FileInfo, NotFoundError

KEY_SEPARATOR = "@"
HASH_DIGITS = 12
MARKER_SUFFIX = ".done"
BATCH_FILE_TAG = "bh_pricing/batch_file"
BATCH_SHA256_TAG = "bh_pricing/batch_sha256"
_VALID_NAME = re.compile(r"^[\w.\-/]+$", re.ASCII)


class BatchContentError(ValueError):
    """A batch's file no longer holds the content the batch was registered with."""


def content_sha256(content: bytes) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(content).hexdigest()


def batch_key(name: str, sha256: str) -> str:
    """Partition key of the batch with content ``sha256`` landed at ``name`` (relative path)."""
    return f"{name}{KEY_SEPARATOR}{sha256[:HASH_DIGITS]}"


def batch_file(key: str) -> tuple[str, str | None]:
    """The landed path a partition key names, and its sha256 prefix (None for a key registered
    before keys carried content, which is the path alone)."""
    name, separator, prefix = key.rpartition(KEY_SEPARATOR)
    return (name, prefix) if separator else (key, None)


def verify_batch_content(key: str, uri: str, content: bytes, sha256: str | None = None) -> str:
    """The sha256 of ``content`` read from ``uri`` for batch ``key``; BatchContentError naming
    the file and both hashes when it is not the content the batch was registered with (the full
    ``sha256`` when known, else the prefix in the key). A key without a hash is not checked."""
    actual = content_sha256(content)
    expected = sha256 or batch_file(key)[1]
    if expected is not None and not actual.startswith(expected):
        raise BatchContentError(
            f"{uri} no longer holds batch {key}: registered with sha256 {expected}, the file now "
            f"has sha256 {actual}. Its new content is a batch of its own; land the old content "
            "again to re-check this one."
        )
    return actual


def is_hidden(name: str) -> bool:
    """True when a part of the relative path starts with ``.`` or ``_`` (editor checkpoints,
    temporary uploads, ``_SUCCESS``-style files)."""
    return any(part.startswith((".", "_")) for part in name.split("/"))


@dataclass
class IntakeCursor:
    """What the sensor remembers between ticks (stored as JSON in its cursor).

    ``files``: per landed path, the last observation ``{"size", "version", "sha256"}`` (sha256 set
    once the file was hashed); ``batches``: partition key of every content hash taken.
    """

    files: dict[str, dict[str, str | int | None]] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> IntakeCursor:
        """The cursor stored by a previous tick (empty on the first tick)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(dict(data.get("files", {})), dict(data.get("batches", {})))

    def dump(self) -> str:
        """JSON text for the sensor cursor."""
        return json.dumps({"files": self.files, "batches": self.batches}, sort_keys=True)


@dataclass(frozen=True)
class NewBatch:
    """A complete file with content not seen before: register ``key``, check it once."""

    key: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    """A file not taken and why; ``settled`` for files already accounted for (registered
    batches and completion markers), which need no attention."""

    name: str
    reason: str
    settled: bool = False


@dataclass(frozen=True)
class Intake:
    """One tick's decision: the new batches, every other file with its reason, the next cursor."""

    batches: list[NewBatch]
    skipped: list[Skipped]
    cursor: IntakeCursor


def name_problem(name: str) -> Skipped | None:
    """Why the file at relative path ``name`` can never be a batch (None when it can)."""
    lowered = name.lower()
    if is_hidden(name):
        return Skipped(name, "hidden (a path part starts with '.' or '_')")
    if lowered.endswith(".csv" + MARKER_SUFFIX):
        return Skipped(name, f"completion marker of {name[: -len(MARKER_SUFFIX)]}", settled=True)
    if not lowered.endswith(".csv"):
        return Skipped(name, "not a CSV (extension .csv expected, any case)")
    if not _VALID_NAME.match(name) or "..." in name:
        return Skipped(name, "invalid name: only letters, digits, '_', '.', '-' and '/' allowed")
    return None


def plan_intake(
    files: Sequence[FileInfo],
    cursor: IntakeCursor,
    registered: Collection[str],
    read: Callable[[FileInfo], bytes],
) -> Intake:
    """Decide, for every listed file, whether it is a new complete batch.

    ``registered`` are the partition keys already known (a key equal to a path, from before
    keys carried content, adopts that file's current content); ``read`` returns a file's bytes
    (raising ``NotFoundError`` if it is gone) and is called once per complete file whose content
    is not known yet. Other storage errors propagate.
    """
    markers = {f.name.lower(): f for f in files if f.name.lower().endswith(MARKER_SUFFIX)}
    state = IntakeCursor({}, dict(cursor.batches))
    taken_names = {batch_file(key)[0] for key in state.batches.values()}
    batches: list[NewBatch] = []
    skipped: list[Skipped] = []
    for info in files:
        name = info.name
        problem = name_problem(name)
        if problem is not None:
            skipped.append(problem)
            continue
        previous = cursor.files.get(name, {})
        observed = {"size": info.size, "version": info.version, "sha256": None}
        unchanged = (previous.get("size"), previous.get("version")) == (info.size, info.version)
        known_sha = previous.get("sha256") if unchanged else None
        if isinstance(known_sha, str):
            state.files[name] = {**observed, "sha256": known_sha}
            skipped.append(_known(name, known_sha, state))
            continue
        state.files[name] = observed
        marker = markers.get(name.lower() + MARKER_SUFFIX)
        marked = marker is not None and marker.modified >= info.modified
        if not (unchanged or marked):
            skipped.append(Skipped(name, _incomplete(previous, info)))
            continue
        if info.size == 0:
            skipped.append(Skipped(name, "empty file (0 bytes): waiting for content"))
            continue
        try:
            content = read(info)
        except NotFoundError:
            state.files.pop(name)
            skipped.append(Skipped(name, "removed while being read"))
            continue
        if len(content) != info.size:
            state.files[name] = {**observed, "size": len(content)}
            skipped.append(Skipped(name, "still being written: its size changed while reading"))
            continue
        sha = content_sha256(content)
        state.files[name]["sha256"] = sha
        key = batch_key(name, sha)
        if sha not in state.batches and key in registered:
            state.batches[sha] = key
        elif sha not in state.batches and name in registered and name not in taken_names:
            state.batches[sha] = name
            taken_names.add(name)
        if sha in state.batches:
            skipped.append(_known(name, sha, state))
            continue
        state.batches[sha] = key
        taken_names.add(name)
        batches.append(NewBatch(key, name, sha))
    return Intake(batches, skipped, state)


def _known(name: str, sha: str, state: IntakeCursor) -> Skipped:
    """A file whose content was taken already: as this batch, or as another one."""
    key = state.batches[sha]
    if batch_file(key)[0] == name:
        return Skipped(name, f"already registered as batch {key}", settled=True)
    return Skipped(name, f"duplicate content of batch {key} (sha256 {sha})")


def _incomplete(previous: dict[str, str | int | None], info: FileInfo) -> str:
    """Why a file is not yet known to be complete."""
    marker = f"{info.name}{MARKER_SUFFIX}"
    if not previous:
        return (
            f"incomplete: first seen ({info.size} bytes); taken when unchanged at the next tick "
            f"or once {marker} is written"
        )
    if previous.get("size") != info.size:
        return f"still being written: {previous.get('size')} -> {info.size} bytes since last tick"
    return "still being written: modified since the last tick (same size)"
