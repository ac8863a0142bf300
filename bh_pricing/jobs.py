"""``build_graph``: every unpartitioned asset, from the raw listings to the serving bundle.

The partitioned batch assets (``market_batches``, ``drift_report``, ``realized_errors``) run per
landed CSV, launched by ``landing_sensor``; a run without a partition cannot hold them.
"""

import dagster as dg

from bh_pricing.assets.monitoring import BATCH_ASSETS

build_graph = dg.define_asset_job(
    "build_graph",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*BATCH_ASSETS),
    description="Materialize the whole graph except the per-batch assets.",
)
