"""Read the prediction log back as a DataFrame (for monitoring); export side, uses pandas."""

from __future__ import annotations

import json

import pandas as pd

from bh_pricing.constants import FEATURE_COLUMNS, LISTING_ID
from bh_pricing.io import storage

LOG_COLUMNS = (
    "request_id",
    "item",
    "time",
    "model_version",
    LISTING_ID,
    *FEATURE_COLUMNS,
    "prediction",
)


def read_prediction_log(uri: str, since: str | None = None) -> pd.DataFrame:
    """One row per logged prediction, oldest first; ``since`` = ISO date, e.g. ``2025-01-31``.

    Feature inputs become columns; ``time`` is a UTC timestamp; ``listing_id`` is the caller's
    id of the listing (missing for requests without one, and in logs written before it existed).
    An empty or missing log gives an empty frame with the same columns.
    """
    files = storage.list_files(uri, suffix=".jsonl")
    if since is not None:
        files = [f for f in files if _file_date(f) is None or _file_date(f) >= since]
    rows = []
    for file in files:
        for number, line in enumerate(storage.read_bytes(file).decode().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{file}, line {number}: not JSON: {exc}") from exc
            rows.append({**record.pop("inputs", {}), **record})
    frame = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    for column in (*FEATURE_COLUMNS[1:], "prediction"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    frame["model_version"] = frame["model_version"].astype("string")
    frame[LISTING_ID] = frame[LISTING_ID].astype("string")
    return frame.sort_values(["time", "request_id", "item"], kind="stable").reset_index(drop=True)


def _file_date(uri: str) -> str | None:
    for part in uri.replace("\\", "/").split("/"):
        if part.startswith("date="):
            return part.removeprefix("date=")
    return None
