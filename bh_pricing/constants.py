"""Names that form bh-pricing's public interface (asset keys, model name, aliases, columns)."""

from typing import Final

REGISTERED_MODEL_NAME: Final = "bh-pricing"
CHAMPION_ALIAS: Final = "champion"
CHALLENGER_ALIAS: Final = "challenger"
CHAMPION_URI: Final = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}"
EXPERIMENT_NAME: Final = "bh-pricing"

RAW_COLUMNS: Final = (
    "address",
    "adm-fees",
    "garage-places",
    "price",
    "rooms",
    "square-foot",
    "neighborhood",
    "city",
    "latitude",
    "longitude",
)
FEATURE_COLUMNS: Final = (
    "neighborhood",
    "square_foot",
    "rooms",
    "garage_places",
    "adm_fees",
    "latitude",
    "longitude",
)
NUMERIC_FEATURES: Final = FEATURE_COLUMNS[1:]
TARGET_COLUMN: Final = "price"
CLEAN_COLUMNS: Final = (*FEATURE_COLUMNS, TARGET_COLUMN, "address", "city")
# The caller's id of a listing: optional on requests (recorded in the prediction log) and in
# landed batches (kept by cleaning), never a feature; matching the two gives realized errors.
LISTING_ID: Final = "listing_id"

KAGGLE_DATASET: Final = "guilherme26/house-pricing-in-belo-horizonte"

# Asset groups, one folder each under bh_pricing/assets/.
INGEST: Final = "ingest"
PREPARATION: Final = "preparation"
TRAINING: Final = "training"
REGISTRY: Final = "registry"
MONITORING: Final = "monitoring"
SERVING: Final = "serving"
