"""Where raw listings come from: the sample generator, a CSV path or s3:// URI, or Kaggle."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bh_pricing.constants import KAGGLE_DATASET
from bh_pricing.core.cleaning import check_raw_columns
from bh_pricing.core.sample import DEFAULT_ROWS, generate_raw_listings
from bh_pricing.io import storage
from bh_pricing.io.listings_csv import CsvStructureError, read_listings_csv

SAMPLE = "sample"
KAGGLE_PREFIX = "kaggle://"


class RawSourceError(ValueError):
    """The raw source could not be read; the message names the source and the problem."""


@dataclass(frozen=True)
class RawListings:
    """Raw frame (all text), where it came from, and how its bytes were decoded."""

    frame: pd.DataFrame
    source: str
    kind: str
    encoding: str | None = None
    malformed_rows: int = 0

    @property
    def content_hash(self) -> str:
        """sha256 of the header (names in order) and every value, independent of location."""
        return frame_sha256(self.frame)


def frame_sha256(frame: pd.DataFrame) -> str:
    """sha256 of a text frame: column names in order, then each column's values (missing = "").

    Values are hashed as their UTF-8 bytes and byte lengths, so the result depends on content
    only (not on dtype, chunking or where the frame was read from).
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(_length_prefixed(str(name).encode("utf-8")))
        lengths, data = hashlib.sha256(), hashlib.sha256()
        column = pa.chunked_array(pa.array(frame[name].astype("string[pyarrow]"))).cast(
            pa.large_string()
        )
        for chunk in column.fill_null("").chunks:
            if len(chunk) == 0:
                continue
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            lengths.update(np.diff(offsets).astype("<i8").tobytes())
            data.update(memoryview(chunk.buffers()[2])[offsets[0] : offsets[-1]])
        digest.update(lengths.digest() + data.digest())
    return digest.hexdigest()


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "little") + data


def kaggle_download(dataset: str) -> str:
    """Download a Kaggle dataset with kagglehub and return its local folder."""
    import kagglehub

    return kagglehub.dataset_download(dataset)


def parse_sample_uri(uri: str, default_rows: int = DEFAULT_ROWS) -> int:
    """Rows asked for by ``sample`` (``default_rows``) or ``sample:<n>`` (e.g. ``sample:1000000``).

    Raises ``RawSourceError`` when ``<n>`` is not a positive integer.
    """
    if uri == SAMPLE:
        return default_rows
    text = uri.removeprefix(SAMPLE + ":").replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise RawSourceError(
            f"{uri}: expected sample:<rows> with a positive integer, e.g. sample:1000000"
        )
    return int(text)


def read_raw_listings(
    uri: str,
    *,
    sample_rows: int = DEFAULT_ROWS,
    sample_seed: int = 0,
    download: Callable[[str], str] = kaggle_download,
) -> RawListings:
    """Read raw listings from ``sample``, ``sample:<rows>``, a CSV path, an ``s3://`` CSV or
    ``kaggle://owner/name``. Raises ``RawSourceError`` naming the source and the problem."""
    uri = uri.strip()
    if uri == SAMPLE or uri.startswith(SAMPLE + ":"):
        rows = parse_sample_uri(uri, sample_rows)
        frame = generate_raw_listings(rows, sample_seed)
        return RawListings(frame, f"sample(rows={rows}, seed={sample_seed})", "sample")
    if uri.startswith(KAGGLE_PREFIX):
        dataset = uri.removeprefix(KAGGLE_PREFIX) or KAGGLE_DATASET
        try:
            folder = Path(download(dataset))
        except Exception as exc:
            raise RawSourceError(f"{uri}: Kaggle download failed: {exc}") from exc
        csvs = sorted(folder.rglob("*.csv"))
        if len(csvs) != 1:
            raise RawSourceError(f"{uri}: expected one CSV in {folder}, found {len(csvs)}")
        return read_csv_listings(csvs[0].read_bytes(), uri, "kaggle")
    try:
        content = storage.read_bytes(uri)
    except storage.StorageError as exc:
        raise RawSourceError(str(exc)) from exc
    kind = "s3" if storage.parse(uri).scheme == "s3" else "file"
    return read_csv_listings(content, uri, kind)


def read_csv_listings(content: bytes, source: str, kind: str = "file") -> RawListings:
    """Raw listings from CSV bytes (``source`` names them in errors); rows with the wrong number
    of fields are kept for the quarantine (see ``bh_pricing.io.listings_csv``).

    Raises ``RawSourceError`` for an empty file, an unreadable CSV, a header without the Kaggle
    columns, a header with no rows, and a file whose every row is malformed.
    """
    if not content.strip():
        raise RawSourceError(f"{source}: the file is empty")
    try:
        parsed = read_listings_csv(content)
    except CsvStructureError as exc:
        raise RawSourceError(f"{source}: {exc}") from exc
    try:
        check_raw_columns(parsed.frame, source)
    except ValueError as exc:
        raise RawSourceError(str(exc)) from exc
    if parsed.frame.empty:
        raise RawSourceError(f"{source}: the CSV has a header but no rows")
    return RawListings(parsed.frame, source, kind, parsed.encoding, len(parsed.malformed))
