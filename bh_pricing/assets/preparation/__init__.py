"""Preparation: clean listings, the quarantine, and the train/test split."""

import dagster as dg

from bh_pricing.assets.preparation.cleaning import cleaned_and_quarantined
from bh_pricing.assets.preparation.split import train_test

defs = dg.Definitions(assets=[cleaned_and_quarantined, train_test])
