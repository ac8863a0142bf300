"""Append-only prediction log in the artifact store, written in batches of JSON lines.

Every flush writes one new object ``<prefix>/date=YYYY-MM-DD/<time>-<id>.jsonl`` (S3 has no append),
so concurrent Lambda containers never overwrite each other. A failed write is logged and counted,
the records stay buffered (up to ``max_buffer``) for the next flush, and the request is unaffected.

Records are buffered in memory and written when a flush is due: at the end of an invocation once
the buffer holds ``max_records`` (``BH_PRICING_LOG_MAX_RECORDS``, default 100) or its oldest record
is ``max_seconds`` old (``BH_PRICING_LOG_MAX_SECONDS``, default 30). One S3 PUT per invocation cost
most of the request time; batching makes it rare. The price: a buffer is only written by a later
invocation of the same container (under uvicorn: by a background task, and at shutdown), so
when Lambda reclaims an idle container it loses the records still buffered: at most
``max_records - 1`` of them, none older than ``max_seconds`` unless the container then sat idle.
Set ``BH_PRICING_LOG_MAX_RECORDS=1`` to write at the end of every invocation (nothing lost).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bh_pricing.constants import LISTING_ID
from bh_pricing.io import storage

logger = logging.getLogger(__name__)


@dataclass
class LogStats:
    """Counters exposed by /health."""

    records_written: int = 0
    files_written: int = 0
    write_failures: int = 0
    records_dropped: int = 0
    last_error: str | None = None


@dataclass
class PredictionLog:
    """Buffer of prediction records, flushed when ``max_records`` or ``max_seconds`` is reached.

    Thread-safe: requests may record while another thread flushes (uvicorn's background flush);
    one flush runs at a time and the write happens outside the buffer's lock.
    """

    uri: str | None
    max_records: int = 100
    max_seconds: float = 30.0
    max_buffer: int = 20_000
    stats: LogStats = field(default_factory=LogStats)
    _buffer: list[dict[str, object]] = field(default_factory=list)
    _oldest: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _flushing: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def enabled(self) -> bool:
        """False when no log location is configured."""
        return bool(self.uri)

    @property
    def pending(self) -> int:
        """Records waiting for the next flush."""
        return len(self._buffer)

    def record(
        self,
        request_id: str,
        model_version: str,
        inputs: Sequence[Mapping[str, object]],
        predictions: Sequence[float],
    ) -> None:
        """Buffer one record per prediction (written later, by ``flush_if_due`` or ``flush``).

        An input's ``listing_id`` (the caller's id, not a feature) is recorded beside the
        inputs, None when absent.
        """
        if not self.enabled:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        records = [
            {
                "request_id": request_id,
                "item": index,
                "time": now,
                "model_version": model_version,
                LISTING_ID: features.get(LISTING_ID),
                "inputs": {k: v for k, v in features.items() if k != LISTING_ID},
                "prediction": float(price),
            }
            for index, (features, price) in enumerate(zip(inputs, predictions, strict=True))
        ]
        with self._lock:
            self._buffer.extend(records)
            if self._oldest is None:
                self._oldest = time.monotonic()

    def due(self) -> bool:
        """True when the buffer is full or its oldest record is ``max_seconds`` old."""
        with self._lock:
            if not self._buffer:
                return False
            age = time.monotonic() - (self._oldest or time.monotonic())
            return len(self._buffer) >= self.max_records or age >= self.max_seconds

    def flush_if_due(self) -> bool:
        """Flush when ``due()``; True when nothing had to be written or the write succeeded."""
        return self.flush() if self.due() else True

    def flush(self) -> bool:
        """Write the buffer as one JSON-lines object; False (and the error counted) on failure."""
        if not self.uri:
            return True
        with self._flushing:
            with self._lock:
                records, oldest = self._buffer, self._oldest
                self._buffer, self._oldest = [], None
            if not records:
                return True
            stamp = datetime.now(UTC)
            name = f"{stamp:%H%M%S%f}-{uuid.uuid4().hex[:12]}.jsonl"
            target = storage.join(self.uri, f"date={stamp:%Y-%m-%d}", name)
            lines = "".join(
                json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records
            )
            try:
                storage.write_bytes(target, lines.encode())
            except storage.StorageError as exc:
                self._keep(records, oldest, exc)
                return False
            with self._lock:
                self.stats.records_written += len(records)
                self.stats.files_written += 1
            return True

    def _keep(self, records: list[dict[str, object]], oldest: float | None, exc: Exception) -> None:
        """Put unwritten records back in front of the buffer, dropping the oldest over the cap."""
        logger.error("prediction log write failed (%d records kept): %s", len(records), exc)
        with self._lock:
            self.stats.write_failures += 1
            self.stats.last_error = str(exc)
            self._buffer = records + self._buffer
            self._oldest = oldest if oldest is not None else self._oldest
            overflow = len(self._buffer) - self.max_buffer
            if overflow > 0:
                del self._buffer[:overflow]
                self.stats.records_dropped += overflow

    def status(self) -> dict[str, object]:
        """What /health reports about the log."""
        with self._lock:
            return {"enabled": self.enabled, "pending": self.pending, **vars(self.stats)}
