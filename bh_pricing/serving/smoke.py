"""Post-publication smoke test: the endpoint answers like the bundle just published, or rollback.

After ``serving_bundle`` switches ``current.json``, a few test listings are priced twice: by the
endpoint (one of ``bh_pricing.serving.smoke_endpoints``: the real Lambda ``handler`` in-process on
the bundle root, a deployed API over HTTP or the deployed function invoked directly) and by the
published bundle itself (``ServedModel``). The endpoint must answer 200 with the published
``model_version`` and every price within ``PARITY_TOLERANCE`` (relative); a deployed endpoint
that still answers with another version is asked again until ``wait_seconds`` have passed (it
follows ``current.json`` within ``BH_PRICING_MODEL_REFRESH_SECONDS``). When it does not,
``restore_pointer`` puts back the ``current.json`` that was there before the publication (or removes
it when there was none), unless a later publication has replaced it meanwhile.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bh_pricing.constants import FEATURE_COLUMNS
from bh_pricing.io import storage
from bh_pricing.serving.bundle import PARITY_TOLERANCE
from bh_pricing.serving.manifest import CURRENT_FILE, CurrentPointer
from bh_pricing.serving.runtime import BundleError, load_bundle, read_current
from bh_pricing.serving.smoke_endpoints import Endpoint, EndpointAnswer

SMOKE_ROWS = 5


def smoke_listings(frame: pd.DataFrame, rows: int = SMOKE_ROWS) -> list[dict[str, Any]]:
    """``rows`` listings spread evenly over ``frame`` (feature columns only, NaN as None).

    Raises ValueError when ``frame`` is empty or lacks a feature column.
    """
    missing = [c for c in FEATURE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"smoke listings: columns {missing} are missing")
    if frame.empty:
        raise ValueError("smoke listings: the frame is empty")
    positions = np.unique(np.linspace(0, len(frame) - 1, min(rows, len(frame))).round().astype(int))
    picked = frame.iloc[positions].loc[:, list(FEATURE_COLUMNS)].astype(object)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else _plain(v)) for k, v in r.items()}
        for r in picked.to_dict(orient="records")
    ]


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class SmokeReport:
    """The endpoint's answer against the bundle's own prices (relative error of each price)."""

    passed: bool
    reason: str
    rows: int
    status: int
    served_version: str | None
    expected_version: str
    max_relative_error: float | None
    tolerance: float


def compare_answer(
    answer: EndpointAnswer,
    expected_prices: np.ndarray,
    expected_version: str,
    tolerance: float = PARITY_TOLERANCE,
) -> SmokeReport:
    """Whether ``answer`` is a 200 batch (no ``error``) from ``expected_version`` with the expected
    prices."""
    body = answer.body
    served = body.get("model_version")
    served = None if served is None else str(served)

    def report(passed: bool, reason: str, error: float | None = None) -> SmokeReport:
        rows = len(expected_prices)
        return SmokeReport(
            passed, reason, rows, answer.status, served, expected_version, error, tolerance
        )

    if answer.status != 200 or answer.error:
        problem = answer.error or body.get("error") or body
        return report(False, f"endpoint answered {answer.status}: {problem}")
    if served != expected_version:
        return report(
            False, f"endpoint serves v{served}, the published bundle is v{expected_version}"
        )
    prices = body.get("prices")
    if not isinstance(prices, list) or len(prices) != len(expected_prices):
        return report(False, f"expected {len(expected_prices)} prices, got {prices!r}")
    actual = np.asarray([np.nan if p is None else p for p in prices], dtype=float)
    relative = np.abs(actual - expected_prices) / np.maximum(np.abs(expected_prices), 1e-9)
    error = float(np.nanmax(relative)) if not np.isnan(relative).all() else math.inf
    if np.isnan(relative).any() or error > tolerance:
        return report(False, f"max relative price error {error:.2e} exceeds {tolerance:.1e}", error)
    return report(True, f"{len(prices)} prices within {tolerance:.1e} of the bundle", error)


def restore_pointer(root: str, published: CurrentPointer, previous: CurrentPointer | None) -> str:
    """Undo the publication of ``published`` under ``root``; what was done, in one sentence.

    ``previous`` (the pointer before the publication) is written back; without one, ``current.json``
    is removed so the failing bundle is not served. If ``current.json`` no longer points at
    ``published`` (a later publication), it is left alone.
    """
    uri = storage.join(root, CURRENT_FILE)
    current = read_current(root)
    if current is None or current.manifest_sha256 != published.manifest_sha256:
        now = "nothing" if current is None else f"{current.bundle} (v{current.model_version})"
        return f"{uri} no longer points at {published.bundle}: left as is ({now})"
    if previous is None:
        storage.delete(uri)
        return f"no bundle was published before {published.bundle}: {uri} removed, nothing served"
    storage.write_bytes(uri, previous.model_dump_json(indent=2).encode())
    return f"{uri} restored to {previous.bundle} (v{previous.model_version})"


@dataclass(frozen=True)
class SmokeOutcome:
    """The comparison and, when it failed, what happened to ``current.json``."""

    report: SmokeReport
    rollback: str


def await_version(
    endpoint: Endpoint,
    listings: list[dict[str, Any]],
    version: str,
    wait_seconds: float,
    poll_seconds: float = 2.0,
) -> EndpointAnswer:
    """Ask ``endpoint`` to price ``listings`` until it answers 200 with model ``version``, or
    until ``wait_seconds`` have passed; the last answer. Any other answer (an error, a 4xx/5xx)
    is returned at once: only a model still being swapped in is worth waiting for."""
    deadline = time.monotonic() + wait_seconds
    while True:
        answer = endpoint.predict(listings)
        served = answer.body.get("model_version") if answer.status == 200 else None
        if served is None or served == version or time.monotonic() + poll_seconds > deadline:
            return answer
        time.sleep(poll_seconds)


def smoke_test(
    endpoint: Endpoint,
    root: str,
    published: CurrentPointer,
    previous: CurrentPointer | None,
    listings: list[dict[str, Any]],
    *,
    restore: bool = True,
    tolerance: float = PARITY_TOLERANCE,
    wait_seconds: float = 0.0,
    poll_seconds: float = 2.0,
) -> SmokeOutcome:
    """Price ``listings`` with ``endpoint`` and with the bundle ``published`` names under ``root``.

    An endpoint still serving another version is asked again for up to ``wait_seconds``
    (``await_version``). On failure, and when ``restore`` (this run published the bundle),
    ``restore_pointer``. A bundle that can no longer be read counts as a failure (the endpoint
    cannot serve it either).
    """
    try:
        bundle = load_bundle(storage.join(root, published.bundle))
    except BundleError as exc:
        unreadable = EndpointAnswer(0, {}, f"published bundle unreadable: {exc}")
        report = compare_answer(unreadable, np.zeros(len(listings)), published.model_version)
    else:
        expected = bundle.predict_records(listings)
        version = bundle.manifest.model_version
        answer = await_version(endpoint, listings, version, wait_seconds, poll_seconds)
        report = compare_answer(answer, expected, version, tolerance)
    if report.passed:
        return SmokeOutcome(report, "none needed")
    if not restore:
        return SmokeOutcome(report, "not restored: this run did not publish the bundle")
    return SmokeOutcome(report, restore_pointer(root, published, previous))
