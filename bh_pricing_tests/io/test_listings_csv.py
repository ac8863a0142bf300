"""CSV structure: malformed rows quarantined with their line, no index inferred, blank lines,
quoted commas, encodings, and a content hash that covers the header."""

import codecs
from pathlib import Path

import pytest

from bh_pricing.constants import RAW_COLUMNS
from bh_pricing.core.cleaning import STRUCTURE_PROBLEM, clean_listings
from bh_pricing.io.raw_sources import RawSourceError, frame_sha256, read_raw_listings

HEADER = ",".join(RAW_COLUMNS)
GOOD = '"Rua da Bahia, 100 ",500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92,-43.94'
GOOD_2 = '"Rua Sergipe, 9 ",800.0,2,900000.0,3,120, Savassi, Belo Horizonte ,-19.93,-43.93'


def write(tmp_path: Path, *lines: str, name: str = "listings.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        ("Rua A, 1,500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92,-43.94", 11),
        ("Rua A,500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92,-43.94,extra,more", 12),
        ("Rua A,500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92", 9),
        ("just one field", 1),
        ('"Rua A, 1",500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92,-43.94,', 11),
    ],
)
def test_rows_with_the_wrong_field_count_are_quarantined_with_their_line(tmp_path, bad, fields):
    raw = read_raw_listings(write(tmp_path, HEADER, bad, GOOD, GOOD_2))
    result = clean_listings(raw.frame)
    assert len(result.clean) == 2, "the well-formed rows after the bad one stay clean"
    assert result.clean["address"].tolist() == ["Rua da Bahia, 100", "Rua Sergipe, 9"]
    (reason,) = result.quarantined["reason"].tolist()
    assert reason.startswith(f"line 2: {fields} field"), reason
    assert f"expected {len(RAW_COLUMNS)}" in reason, reason
    assert len(result.clean) + len(result.quarantined) == len(raw.frame) == 3
    assert result.reasons == {"wrong number of fields": 1}


def test_the_first_column_is_never_an_index(tmp_path):
    raw = read_raw_listings(write(tmp_path, HEADER, GOOD, GOOD_2))
    assert list(raw.frame.columns) == list(RAW_COLUMNS)
    assert raw.frame.index.tolist() == [0, 1]
    assert raw.frame["address"].iloc[0] == "Rua da Bahia, 100 ", "quoted commas stay in the field"


@pytest.mark.parametrize("tail", ["", "\n", "\n\n\n", "\n   \n", "\r\n\r\n"])
def test_blank_trailing_lines_are_ignored(tmp_path, tail):
    path = tmp_path / "listings.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{GOOD_2}{tail}", encoding="utf-8")
    raw = read_raw_listings(str(path))
    assert len(raw.frame) == 2
    assert STRUCTURE_PROBLEM not in raw.frame.columns


@pytest.mark.parametrize(
    "rows",
    [
        ["a,b"],
        ["Rua A, 1,500.0,1,500000.0,2,70, Centro, Belo Horizonte ,-19.92,-43.94", "x,y"],
        ['"unterminated,1'],
    ],
)
def test_a_file_of_malformed_rows_fails_naming_the_first_bad_line(tmp_path, rows):
    with pytest.raises(RawSourceError, match=r"listings.csv: no well-formed row.*line 2: "):
        read_raw_listings(write(tmp_path, HEADER, *rows))


def test_line_numbers_count_from_the_header(tmp_path):
    raw = read_raw_listings(write(tmp_path, HEADER, GOOD, GOOD_2, "x,y", GOOD.replace("100", "7")))
    problems = raw.frame[STRUCTURE_PROBLEM].dropna().tolist()
    assert [p.split(":")[0] for p in problems] == ["line 4"]
    assert raw.malformed_rows == 1


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8"),
        ("latin-1", b"", "latin-1"),
        ("cp1252", b"", "latin-1"),
    ],
)
def test_encodings_are_read_and_reported(tmp_path, encoding, prefix, expected):
    text = f"{HEADER}\n{GOOD.replace('Centro', 'Funcionários')}\n"
    path = tmp_path / "listings.csv"
    path.write_bytes(prefix + text.encode(encoding))
    raw = read_raw_listings(str(path))
    assert raw.encoding == expected
    assert list(raw.frame.columns) == list(RAW_COLUMNS), "a byte order mark is not in the header"
    assert clean_listings(raw.frame).clean["neighborhood_name"].tolist() == ["Funcionários"]


def test_a_repeated_header_name_is_an_error(tmp_path):
    path = write(tmp_path, "price," + HEADER, "1," + GOOD)
    with pytest.raises(RawSourceError, match=r"repeats column\(s\) \['price'\]"):
        read_raw_listings(path)


def test_header_order_changes_the_content_hash(tmp_path):
    columns = list(RAW_COLUMNS)
    swapped = [columns[1], columns[0], *columns[2:]]
    row = ",".join(f"v{i}" for i in range(len(columns)))
    first = read_raw_listings(write(tmp_path, ",".join(columns), row, name="c.csv"))
    second = read_raw_listings(write(tmp_path, ",".join(swapped), row, name="d.csv"))
    assert first.content_hash != second.content_hash, "the header is part of the content"
    again = read_raw_listings(write(tmp_path, ",".join(columns), row, name="e.csv"))
    assert first.content_hash == again.content_hash, "same bytes, same hash"


def test_hash_does_not_depend_on_dtype(tmp_path):
    raw = read_raw_listings(write(tmp_path, HEADER, GOOD, GOOD_2))
    assert frame_sha256(raw.frame) == frame_sha256(raw.frame.astype(object))
