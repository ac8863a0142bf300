"""Generated messy raw CSVs (random field counts, missing words, ranges, quotes, padding,
encodings): reading and cleaning never fail unexpectedly and every raw row is accounted for."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bh_pricing.constants import RAW_COLUMNS
from bh_pricing.core.cleaning import clean_listings
from bh_pricing.io.raw_sources import RawSourceError, read_csv_listings

MISSING = ["", " ", "--", "-", "nan", "NaN", "NULL", "null", "N/A", "None"]
NUMBERS = [
    "1",
    "2",
    "3",
    "70",
    "102.0",
    "45-65",
    "2-3",
    "500000.0",
    "1.200",
    "5000000000",
    "-19.93",
    "-43.94",
    "9",
    "0",
    "1e3",
    "inf",
    "abc",
    "1,5",
]
TEXT = [
    "Lourdes",
    " LOURDES ",
    "Lourdés",
    "Santo Antônio",
    "Rua A, 1",
    'Rua "B"',
    "São",
    "Belo Horizonte",
    "x\ny",
    "ção",
]

field = st.sampled_from(MISSING + NUMBERS + TEXT)
row = st.lists(field, min_size=len(RAW_COLUMNS) - 2, max_size=len(RAW_COLUMNS) + 2)
good_row = st.lists(field, min_size=len(RAW_COLUMNS), max_size=len(RAW_COLUMNS))


def render(rows: list[list[str]], quoting: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting, lineterminator="\n")
    writer.writerow(RAW_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rows=st.lists(st.one_of(row, good_row), min_size=1, max_size=25),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    encoding=st.sampled_from(["utf-8", "utf-8-bom", "latin-1", "cp1252"]),
    trailing=st.sampled_from(["", "\n", "\n\n  \n"]),
)
def test_messy_csvs_are_read_and_every_row_is_accounted_for(rows, quoting, encoding, trailing):
    text = render(rows, quoting) + trailing
    if encoding == "utf-8-bom":
        content = codecs.BOM_UTF8 + text.encode("utf-8")
    else:
        content = text.encode(encoding, errors="replace")
    if all(len(r) != len(RAW_COLUMNS) for r in rows):
        with pytest.raises(RawSourceError, match=r"^messy.csv: no well-formed row; .* line 2: "):
            read_csv_listings(content, "messy.csv")
        return
    raw = read_csv_listings(content, "messy.csv")
    result = clean_listings(raw.frame)
    assert len(result.clean) + len(result.quarantined) == len(raw.frame), "no row may vanish"
    assert result.quarantined["reason"].str.len().gt(0).all(), "every quarantined row has a reason"
    assert sum(result.reasons.values()) == len(result.quarantined)
    assert raw.malformed_rows == int(result.reasons.get("wrong number of fields", 0))
