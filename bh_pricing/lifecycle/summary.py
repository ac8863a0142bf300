"""What the graph left behind, in a few lines: the champion, its scores and holdout metrics,
the served bundle.

``make run`` ends with ``python -m bh_pricing.lifecycle.summary``; it reads the same resource set
as the code location (``BH_PRICING_ENV``).
"""

from __future__ import annotations

import sys

import dagster as dg
from mlflow.tracking import MlflowClient

from bh_pricing.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from bh_pricing.io import registry
from bh_pricing.resources import build_resources
from bh_pricing.serving.runtime import read_current


def summary_lines(client: MlflowClient, bundles_uri: str) -> list[str]:
    """Champion (version, candidate, trigger, scores, decision, holdout metrics), challenger,
    published bundle."""
    champion = registry.version_by_alias(client, CHAMPION_ALIAS)
    if champion is None:
        return [f"{REGISTERED_MODEL_NAME}: no {CHAMPION_ALIAS} yet"]
    tags = champion.tags
    lines = [
        f"champion: {REGISTERED_MODEL_NAME} v{champion.version} ({tags.get('candidate', '?')}, "
        f"{tags.get('trigger', '?')})",
        f"  score {tags.get('candidate_score', '?')} vs previous champion "
        f"{tags.get('champion_score', '?')}: {tags.get('decision_reason', '?')}",
    ]
    if champion.run_id:
        tested = holdout_metrics(client.get_run(champion.run_id).data.metrics)
        lines += [f"  test_listings: {tested}"] if tested else []
    challenger = registry.version_by_alias(client, CHALLENGER_ALIAS)
    if challenger is not None:
        lines.append(
            f"challenger: v{challenger.version}: {challenger.tags.get('decision_reason', '?')}"
        )
    current = read_current(bundles_uri)
    lines.append(
        f"bundle: nothing published under {bundles_uri}"
        if current is None
        else f"bundle: v{current.model_version} at {bundles_uri}/{current.bundle} "
        f"(published {current.published_at})"
    )
    return lines


def holdout_metrics(metrics: dict[str, float]) -> str:
    """The run's ``test_*`` metrics in a line: RMSE and MAE in BRL, MAPE in %, R²."""
    shown = {
        "test_rmse": lambda v: f"RMSE {v:,.0f} BRL",
        "test_mae": lambda v: f"MAE {v:,.0f} BRL",
        "test_mape": lambda v: f"MAPE {v:.1%}",
        "test_r2": lambda v: f"R² {v:.3f}",
    }
    return ", ".join(fmt(metrics[key]) for key, fmt in shown.items() if key in metrics)


def main() -> int:
    """Print the summary of the configured deployment."""
    with dg.build_resources(build_resources()) as resources:
        lines = summary_lines(resources.mlflow.client(), resources.locations.bundles_uri())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
