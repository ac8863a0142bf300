"""Canonical neighborhoods: every spelling of a name has one key; display names and lookups."""

import unicodedata

import numpy as np
import pytest

from bh_pricing.contract import (
    canonical_name,
    canonical_neighborhood,
    display_names,
    known_lookup,
    to_known,
)

VARIANTS = {
    "lourdes": ["Lourdes", "LOURDES", " lourdes ", "Lourdés", "lOuRdEs", "\u00a0Lourdes\t"],
    "santo antonio": [
        "Santo Antônio",
        "santo antonio",
        "SANTO  ANTÔNIO",
        unicodedata.normalize("NFD", "Santo Antônio"),
        unicodedata.normalize("NFC", "Santo Antônio"),
        "Santo\u3000Antonio",
    ],
    "funcionarios": ["Funcionários", "FUNCIONARIOS", "ｆｕｎｃｉｏｎáｒｉｏｓ"],
}


@pytest.mark.parametrize(
    ("key", "spelling"), [(k, v) for k, spellings in VARIANTS.items() for v in spellings]
)
def test_every_spelling_has_the_same_key(key, spelling):
    assert canonical_name(spelling) == key, f"{spelling!r} should be {key!r}"


@pytest.mark.parametrize("missing", ["", "  ", "NULL", "nan", "N/A", None, float("nan")])
def test_missing_names_have_an_empty_key(missing):
    assert canonical_neighborhood([missing]).tolist() == [""]


def test_arrays_and_strings_are_both_accepted():
    assert canonical_neighborhood("LOURDES") == "lourdes"
    assert canonical_neighborhood(np.array(["Serra", " SERRA"], dtype=object)).tolist() == [
        "serra",
        "serra",
    ]


def test_non_text_names_are_a_type_error():
    with pytest.raises(TypeError, match="must be text"):
        canonical_neighborhood([42])


def test_display_name_is_the_most_frequent_spelling():
    names = ["LOURDES", "Lourdes", " Lourdes ", "Savassi"]
    keys = canonical_neighborhood(names)
    assert display_names(names, keys) == {"lourdes": "Lourdes", "savassi": "Savassi"}
    assert display_names(["A", "a"], ["a", "a"], [1, 5]) == {"a": "a"}, "counts weigh spellings"


@pytest.mark.parametrize(
    "known", [["Lourdes", "Santo Antônio"], ["lourdes", "santo antonio"]], ids=["names", "keys"]
)
def test_variants_map_to_the_models_own_category(known):
    lookup = known_lookup(known)
    got = to_known(["LOURDÉS", "santo  ANTONIO", "Nowhere"], lookup).tolist()
    assert got == [known[0], known[1], "nowhere"]
