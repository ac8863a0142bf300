"""Where raw listings come from: the sample generator, a CSV path or s3:// URI, or Kaggle."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bh_pricing.constants import KAGGLE_DATASET
from bh_pricing.core.cleaning import check_raw_columns
from bh_pricing.core.sample import generate_raw_listings
from bh_pricing.io import storage

SAMPLE = "sample"
KAGGLE_PREFIX = "kaggle://"


class RawSourceError(ValueError):
    """The raw source could not be read; the message names the source and the problem."""


@dataclass(frozen=True)
class RawListings:
    """Raw frame (all text) and where it came from."""

    frame: pd.DataFrame
    source: str
    kind: str

    @property
    def content_hash(self) -> str:
        """sha256 of the frame's content, independent of where it was read from."""
        hashed = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return hashlib.sha256(hashed.tobytes()).hexdigest()


def kaggle_download(dataset: str) -> str:
    """Download a Kaggle dataset with kagglehub and return its local folder."""
    import kagglehub

    return kagglehub.dataset_download(dataset)


def read_raw_listings(
    uri: str,
    *,
    sample_rows: int = 5981,
    sample_seed: int = 0,
    download: Callable[[str], str] = kaggle_download,
) -> RawListings:
    """Read raw listings from ``sample``, a CSV path, an ``s3://`` CSV or ``kaggle://owner/name``."""
    uri = uri.strip()
    if uri == SAMPLE:
        frame = generate_raw_listings(sample_rows, sample_seed)
        return RawListings(frame, f"sample(rows={sample_rows}, seed={sample_seed})", "sample")
    if uri.startswith(KAGGLE_PREFIX):
        dataset = uri.removeprefix(KAGGLE_PREFIX) or KAGGLE_DATASET
        try:
            folder = Path(download(dataset))
        except Exception as exc:
            raise RawSourceError(f"{uri}: Kaggle download failed: {exc}") from exc
        csvs = sorted(folder.rglob("*.csv"))
        if len(csvs) != 1:
            raise RawSourceError(f"{uri}: expected one CSV in {folder}, found {len(csvs)}")
        return RawListings(_parse_csv(csvs[0].read_bytes(), uri), uri, "kaggle")
    try:
        content = storage.read_bytes(uri)
    except storage.StorageError as exc:
        raise RawSourceError(str(exc)) from exc
    kind = "s3" if storage.parse(uri).scheme == "s3" else "file"
    return RawListings(_parse_csv(content, uri), uri, kind)


def _parse_csv(content: bytes, source: str) -> pd.DataFrame:
    if not content.strip():
        raise RawSourceError(f"{source}: the file is empty")
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise RawSourceError(f"{source}: not a readable CSV: {exc}") from exc
    try:
        check_raw_columns(frame, source)
    except ValueError as exc:
        raise RawSourceError(str(exc)) from exc
    if frame.empty:
        raise RawSourceError(f"{source}: the CSV has a header but no rows")
    return frame
