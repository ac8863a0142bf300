"""The Dagster UI in Debian's Chromium: the lineage from raw_listings to the end of the graph is
drawn node by node and edge by edge, and a materialization launched by a click succeeds.

Screenshots land in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bh_pricing_tests.topology.stack import REPO_ROOT, Topology

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
HEAD = "raw_listings"
TAILS = ("serving_bundle", "champion_model")  # the first one the graph has is the end
RUN_TIMEOUT_MS = 300_000
DIALOG_TIMEOUT_MS = 8_000

# Asset nodes and edge paths of the lineage graph, in SVG coordinates.
GRAPH_GEOMETRY = """() => {
  const svg = document.querySelector('svg[class*="sVGContainer"]');
  if (!svg) return null;
  const nodes = [...svg.querySelectorAll('foreignObject')].map(f => ({
    x: +f.getAttribute('x'), y: +f.getAttribute('y'),
    width: +f.getAttribute('width'), height: +f.getAttribute('height'),
    text: (f.textContent || '').trim(),
  }));
  const edges = [...svg.querySelectorAll('path')].map(p => p.getAttribute('d') || '');
  return {nodes, edges};
}"""
EDGES_DRAWN = (
    """n => document.querySelectorAll('svg[class*="sVGContainer"] path[d*="C"]').length >= n"""
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright never downloads a browser here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run .ci/topology-deps.sh (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page with a desktop-sized viewport."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def base_url(topology: Topology) -> str:
    """The webserver's root URL."""
    return topology.dagster.url.removesuffix("/graphql")


def open_page(page: Page, url: str) -> None:
    """Go to ``url`` and dismiss the first-visit community dialog, which fades in late."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=DIALOG_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        return  # this visit shows no dialog
    skip.click()
    skip.wait_for(state="hidden")


def upstream_graph(nodes: dict[str, dict[str, Any]], tail: str) -> set[tuple[str, str]]:
    """Edges (upstream, downstream) of everything ``tail`` depends on, transitively."""
    edges, todo, seen = set(), [tail], {tail}
    while todo:
        key = todo.pop()
        for dep in nodes[key]["dependencyKeys"]:
            upstream = "/".join(dep["path"])
            edges.add((upstream, key))
            if upstream not in seen:
                seen.add(upstream)
                todo.append(upstream)
    return edges


def label_matches(label: str, key: str) -> bool:
    """The UI shortens long names with an ellipsis in the middle (``gradient_bo…_model``)."""
    head, ellipsis, tail = label.partition("…")
    if not ellipsis:
        return label == key
    return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)


def drawn_edges(geometry: dict[str, Any], keys: set[str]) -> set[tuple[str, str]]:
    """Edges as drawn: a path leaves a node's right side and ends at another's left side."""
    boxes = []
    for node in geometry["nodes"]:
        matches = [k for k in keys if label_matches(node["text"], k)]
        if len(matches) == 1:
            boxes.append((matches[0], node))

    def node_at(x: float, y: float, side: str) -> str | None:
        for key, box in boxes:
            edge_x = box["x"] + box["width"] if side == "right" else box["x"]
            if abs(edge_x - x) <= 12 and box["y"] <= y <= box["y"] + box["height"]:
                return key
        return None

    edges = set()
    for path in geometry["edges"]:
        points = re.findall(r"(-?[\d.]+),(-?[\d.]+)", path)
        if len(points) < 2:
            continue  # arrowhead markers
        (x1, y1), (x2, y2) = map(float, points[0]), map(float, points[-1])
        source, target = node_at(x1, y1, "right"), node_at(x2, y2, "left")
        if source and target:
            edges.add((source, target))
    return edges


def test_lineage_view_draws_every_asset_and_edge_from_raw_listings_on(
    topology: Topology, page: Page
) -> None:
    nodes = topology.dagster.asset_nodes()
    tail = next(t for t in TAILS if t in nodes)
    expected = upstream_graph(nodes, tail)
    keys = {k for edge in expected for k in edge}
    assert HEAD in keys, f"{tail} does not depend on {HEAD}: {sorted(keys)}"

    lineage = f"/assets/{tail}?view=lineage&lineageScope=upstream&lineageDepth={len(keys)}"
    open_page(page, base_url(topology) + lineage)
    page.get_by_text(HEAD, exact=True).first.wait_for()
    page.wait_for_function(EDGES_DRAWN, arg=len(expected))
    geometry = page.evaluate(GRAPH_GEOMETRY)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "topology-lineage.png"), full_page=True)

    assert geometry is not None, "no lineage graph on the page"
    labels = [n["text"] for n in geometry["nodes"]]
    missing = [k for k in keys if not any(label_matches(label, k) for label in labels)]
    assert not missing, f"assets not drawn: {missing}; labels: {labels}"
    drawn = drawn_edges(geometry, keys)
    assert expected <= drawn, f"edges not drawn: {sorted(expected - drawn)}"


def test_materialize_clicked_in_the_ui_runs_to_success(topology: Topology, page: Page) -> None:
    open_page(page, f"{base_url(topology)}/assets/{HEAD}")
    page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$")).click()
    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    toast.wait_for()
    short_id = toast.inner_text().split()[-1]
    view = page.locator(f"a[href*='/runs/{short_id}']", has_text="View")
    run_id = (view.get_attribute("href") or "").rsplit("/runs/", 1)[1].split("?")[0]
    view.click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}"))

    page.get_by_text("Success", exact=True).first.wait_for(timeout=RUN_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "topology-run.png"))
    run = topology.dagster.run(run_id)
    assert run.status == "SUCCESS", topology.dagster.failure_messages(run_id)
    assert run.asset_keys == (HEAD,), f"the click launched {run.asset_keys}"
