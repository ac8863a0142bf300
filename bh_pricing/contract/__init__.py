"""The listing contract: how a raw listing value becomes a model feature.

Shared by cleaning (``bh_pricing.core.cleaning``) and the endpoint's request validation
(``bh_pricing.serving.schemas``) and model feeds (``bh_pricing.serving.runtime``), so both accept
and reject the same listings. Standard library and numpy only: it ships in the Lambda package.
"""

from bh_pricing.contract.listing import (
    COORDINATES,
    DEFAULT_BOUNDS,
    NUMERIC_COLUMNS,
    NUMERIC_RAW_TO_CLEAN,
    Bounds,
    NumericColumn,
    ParsedColumn,
    clear_coordinates,
    parse_column,
)
from bh_pricing.contract.neighborhood import (
    canonical_name,
    canonical_neighborhood,
    display_names,
    known_lookup,
    tidy_name,
    to_known,
)
from bh_pricing.contract.values import (
    MISSING_WORDS,
    ParsedNumbers,
    is_missing_word,
    parse_number,
    parse_numbers,
)

__all__ = [
    "COORDINATES",
    "DEFAULT_BOUNDS",
    "MISSING_WORDS",
    "NUMERIC_COLUMNS",
    "NUMERIC_RAW_TO_CLEAN",
    "Bounds",
    "NumericColumn",
    "ParsedColumn",
    "ParsedNumbers",
    "canonical_name",
    "canonical_neighborhood",
    "clear_coordinates",
    "display_names",
    "is_missing_word",
    "known_lookup",
    "parse_column",
    "parse_number",
    "parse_numbers",
    "tidy_name",
    "to_known",
]
