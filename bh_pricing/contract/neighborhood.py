"""A neighborhood's canonical form: one key for every spelling of the same name.

``canonical_neighborhood`` is what cleaning stores in ``neighborhood`` (so models train on it)
and what the endpoint and the MLflow model feed the model: ``"LOURDES"``, ``" lourdes "``,
``"Lourdés"``, ``"Santo  Antônio"`` (NFD or NFC) and ``"santo antonio"`` price alike. The display
name (``display_names``) is the most frequent original spelling of each key. Standard library and
numpy only.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from bh_pricing.contract.values import is_missing_word


def canonical_name(name: str) -> str:
    """The canonical key of one neighborhood name ("" when it is blank or a missing-value word).

    Steps: Unicode compatibility normal form (NFKC: full-width letters, ligatures, non-breaking
    spaces), accents removed (NFD, combining marks dropped), case folded, every run of
    whitespace collapsed to one space, ends stripped:
    ``"  Santo  ANTÔNIO "`` -> ``"santo antonio"``.
    """
    if is_missing_word(name):
        return ""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def canonical_neighborhood(names: Sequence[Any] | np.ndarray | str) -> Any:
    """Canonical keys of neighborhood names: a ``str`` for a ``str``, else an object array.

    Missing values (``None``, NaN, blank, missing-value words) give ``""``; other non-text values
    raise ``TypeError``. Each distinct name is normalised once, so 1 M rows with a few hundred
    neighborhoods cost one dictionary lookup per row.
    """
    if isinstance(names, str):
        return canonical_name(names)
    values = np.asarray(names, dtype=object)
    memo: dict[Any, str] = {}
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        key = memo.get(value)
        if key is None:
            key = memo[value] = _canonical_any(value)
        out[i] = key
    return out


def _canonical_any(value: Any) -> str:
    if isinstance(value, str):
        return canonical_name(value)
    if is_missing_word(value):
        return ""
    raise TypeError(f"a neighborhood must be text, got {type(value).__name__} {value!r}")


def tidy_name(name: str) -> str:
    """A spelling as displayed: NFC, whitespace collapsed, ends stripped (case and accents kept)."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def display_names(
    names: Iterable[str], keys: Iterable[str], counts: Iterable[int] | None = None
) -> dict[str, str]:
    """Per canonical key, its most frequent tidied spelling (ties: the first in sort order).

    ``counts`` weighs each name (e.g. distinct names with their row counts); default 1 each.
    """
    spellings: dict[str, Counter[str]] = {}
    weights = counts if counts is not None else repeat(1)
    for name, key, weight in zip(names, keys, weights, strict=False):
        if key:
            spellings.setdefault(key, Counter())[tidy_name(name)] += int(weight)
    return {
        key: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        for key, counts in spellings.items()
    }


def known_lookup(known: Iterable[str]) -> dict[str, str]:
    """Map canonical key -> the model's own category, for models trained on any spelling.

    A model trained on canonical keys maps each key to itself; one trained on display names
    (before canonical keys existed) maps ``"lourdes"`` to ``"Lourdes"``.
    """
    return {canonical_name(name): name for name in sorted(known, reverse=True)}


def to_known(names: Sequence[Any] | np.ndarray, lookup: dict[str, str]) -> np.ndarray:
    """The model category for each name: the known spelling of its key, else the key itself."""
    keys = canonical_neighborhood(names)
    return np.fromiter((lookup.get(k, k) for k in keys), dtype=object, count=len(keys))
