"""Serving: the champion as a published ONNX bundle, and the endpoint's prediction log.

The ``bundle_parity`` check is declared on ``serving_bundle`` itself (``check_specs``): parity has
to be proven inside the step, before ``current.json`` is switched, not by a later step.
"""

import dagster as dg

from bh_pricing.assets.serving.bundle import BUNDLE_PARITY, serving_bundle
from bh_pricing.assets.serving.prediction_log import prediction_log
from bh_pricing.assets.serving.smoke import ENDPOINT_SMOKE, endpoint_smoke

__all__ = ["BUNDLE_PARITY", "ENDPOINT_SMOKE", "defs"]

defs = dg.Definitions(assets=[serving_bundle, prediction_log], asset_checks=[endpoint_smoke])
