"""A running endpoint follows ``current.json``: a newly published champion is served without a
restart (warm Lambda containers, ``make serve``), within ``refresh_seconds``; a bundle it cannot
load leaves the loaded one serving and says why in ``/health``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bh_pricing.serving import lambda_handler
from bh_pricing.serving.manifest import CURRENT_FILE, MODEL_FILE
from bh_pricing.serving.runtime import load_bundle, read_current
from bh_pricing.serving.service import PricingService, ServingSettings
from bh_pricing.serving.smoke import smoke_test
from bh_pricing.serving.smoke_endpoints import LocalHandler


@pytest.fixture
def root(tmp_path: Path, fitted: dict[str, Any], listings: pd.DataFrame, export: Any) -> str:
    """A bundle root where ridge v6 is published."""
    root = str(tmp_path / "bundles")
    export(fitted["ridge"], root, listings, model_version="6")
    return root


def serve(root: str, refresh_seconds: float) -> Iterator[PricingService]:
    service = PricingService(
        ServingSettings(root, None, retry_seconds=0, refresh_seconds=refresh_seconds)
    )
    lambda_handler.reset_service(service)
    yield service
    lambda_handler.reset_service(None)


@pytest.fixture
def following(root: str) -> Iterator[PricingService]:
    """The handler's service on ``root``, re-reading the pointer on every call."""
    yield from serve(root, refresh_seconds=0)


def predict(rows: list[dict[str, Any]], invoke: Any, v2_event: Any) -> dict[str, Any]:
    status, body = invoke(v2_event("POST", "/predict", rows))
    assert status == 200, body
    return body


def health(invoke: Any, v2_event: Any) -> dict[str, Any]:
    return invoke(v2_event("GET", "/health"))[1]["model"]


@pytest.mark.usefixtures("following")
def test_a_new_publication_is_served_without_a_restart(
    root: str,
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    rows: list[dict[str, Any]],
    invoke: Any,
    v2_event: Any,
) -> None:
    assert predict(rows, invoke, v2_event)["model_version"] == "6"
    export(fitted["gradient_boosting"], root, listings, model_version="7")
    body = predict(rows, invoke, v2_event)
    assert body["model_version"] == "7"
    expected = load_bundle(root).predict_records(rows)
    np.testing.assert_allclose(body["prices"], expected, rtol=1e-6)
    # and back: a rollback of current.json is followed the same way
    export(fitted["baseline"], root, listings, model_version="8")
    assert predict(rows, invoke, v2_event)["model_version"] == "8"
    assert "refresh_error" not in health(invoke, v2_event)


def test_within_the_refresh_interval_the_loaded_bundle_keeps_serving(
    root: str,
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    rows: list[dict[str, Any]],
    invoke: Any,
    v2_event: Any,
) -> None:
    for service in serve(root, refresh_seconds=3600):
        assert predict(rows, invoke, v2_event)["model_version"] == "6"
        export(fitted["gradient_boosting"], root, listings, model_version="7")
        assert predict(rows, invoke, v2_event)["model_version"] == "6"
        service.models.refresh_seconds = 0
        assert predict(rows, invoke, v2_event)["model_version"] == "7"


@pytest.mark.usefixtures("following")
@pytest.mark.parametrize("damage", ["corrupt model", "pointer removed", "pointer not JSON"])
def test_a_bundle_that_cannot_be_loaded_leaves_the_served_one_and_says_why(
    root: str,
    fitted: dict[str, Any],
    listings: pd.DataFrame,
    export: Any,
    rows: list[dict[str, Any]],
    invoke: Any,
    v2_event: Any,
    damage: str,
) -> None:
    assert predict(rows, invoke, v2_event)["model_version"] == "6"
    export(fitted["gradient_boosting"], root, listings, model_version="7")
    pointer = Path(root) / CURRENT_FILE
    if damage == "corrupt model":
        current = read_current(root)
        assert current is not None
        model = Path(root) / current.bundle / MODEL_FILE
        model.write_bytes(model.read_bytes()[:-16] + b"\0" * 16)
    elif damage == "pointer removed":
        pointer.unlink()
    else:
        pointer.write_text("{not json")
    assert predict(rows, invoke, v2_event)["model_version"] == "6"
    status = health(invoke, v2_event)
    assert status["model_version"] == "6"
    assert status["refresh_error"].startswith("still serving ")
    # a good publication afterwards is followed, and the error is gone
    export(fitted["baseline"], root, listings, model_version="8")
    assert predict(rows, invoke, v2_event)["model_version"] == "8"
    assert "refresh_error" not in health(invoke, v2_event)


class Lagging:
    """A deployed endpoint whose warm container serves the previous version for ``lag`` calls,
    then follows ``current.json`` (the real handler on the root)."""

    description = "lagging"

    def __init__(self, root: str, lag: int) -> None:
        self.handler = LocalHandler(root)
        self.lag = lag
        self.calls = 0

    def predict(self, listings: list[dict[str, Any]]) -> Any:
        self.calls += 1
        answer = self.handler.predict(listings)
        if self.calls <= self.lag:
            answer.body["model_version"] = "6"
        return answer


def test_smoke_waits_for_a_deployed_endpoint_to_follow_the_pointer(
    published: Any, rows: list[dict[str, Any]]
) -> None:
    root, previous, current = published
    endpoint = Lagging(root, lag=2)
    outcome = smoke_test(
        endpoint, root, current, previous, rows, wait_seconds=30, poll_seconds=0.01
    )
    assert outcome.report.passed, outcome.report.reason
    assert endpoint.calls == 3, "asked again until it served v7, not longer"
    assert read_current(root) == current


def test_an_endpoint_that_never_follows_fails_after_the_wait_and_restores(
    published: Any, rows: list[dict[str, Any]]
) -> None:
    root, previous, current = published
    endpoint = Lagging(root, lag=10**6)
    outcome = smoke_test(endpoint, root, current, previous, rows, wait_seconds=2, poll_seconds=0.01)
    assert not outcome.report.passed
    assert "serves v6" in outcome.report.reason
    assert endpoint.calls >= 2, "asked again before giving up"
    assert read_current(root) == previous


def test_errors_are_not_waited_for(published: Any, rows: list[dict[str, Any]]) -> None:
    root, previous, current = published
    (Path(root) / current.bundle / MODEL_FILE).unlink()
    endpoint = LocalHandler(root)
    calls = []
    original = endpoint.predict
    endpoint.predict = lambda listings: calls.append(1) or original(listings)  # type: ignore[method-assign]
    outcome = smoke_test(
        endpoint, root, current, previous, rows, wait_seconds=30, poll_seconds=0.01
    )
    assert not outcome.report.passed
    assert len(calls) <= 1, "an unreadable bundle or a 503 is a failure at once"


def test_refresh_interval_comes_from_the_environment() -> None:
    assert ServingSettings.from_env({}).refresh_seconds == 30.0
    assert (
        ServingSettings.from_env({"BH_PRICING_MODEL_REFRESH_SECONDS": " 5 "}).refresh_seconds == 5
    )
    assert ServingSettings.from_env({"BH_PRICING_MODEL_REFRESH_SECONDS": ""}).refresh_seconds == 30


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "30s"])
@pytest.mark.parametrize(
    "name",
    [
        "BH_PRICING_MODEL_REFRESH_SECONDS",
        "BH_PRICING_MODEL_RETRY_SECONDS",
        "BH_PRICING_LOG_MAX_SECONDS",
        "BH_PRICING_LOG_MAX_RECORDS",
    ],
)
def test_a_bad_number_is_an_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a .*{value!r}"):
        ServingSettings.from_env({name: value})
