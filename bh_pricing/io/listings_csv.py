"""Read a raw listings CSV as text columns, keeping every row, well-formed or not.

pyarrow's CSV reader does the parsing (quoted commas and newlines, a UTF-8 byte order mark,
blank lines). A row with more or fewer fields than the header is not guessed at: it is kept as a
row whose fields are empty and whose ``STRUCTURE_PROBLEM`` says what was wrong (line number,
fields found and expected, the text), so cleaning quarantines it and raw = clean + quarantined
still holds. The first column is never taken as an index.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from bh_pricing.core.cleaning import STRUCTURE_PROBLEM

# Tried in order: UTF-8 (with or without byte order mark), then Latin-1, which reads any byte
# (spreadsheets exported on Windows in Brazil); the one used is reported with the frame.
ENCODINGS = ("utf-8", "latin-1")
_SHOWN_CHARS = 120


class CsvStructureError(ValueError):
    """The CSV has no usable header or no well-formed row; the message names the first problem."""


@dataclass(frozen=True)
class MalformedRow:
    """A data row whose field count differs from the header's."""

    line: int | None
    fields: int
    expected: int
    text: str

    def describe(self) -> str:
        """e.g. ``line 2: 11 fields, expected 10: 'Rua A, 1,500.0,...'``."""
        where = f"line {self.line}" if self.line is not None else "a row"
        text = self.text if len(self.text) <= _SHOWN_CHARS else self.text[:_SHOWN_CHARS] + "..."
        fields = f"{self.fields} field{'s' if self.fields != 1 else ''}"
        return f"{where}: {fields}, expected {self.expected}: {text!r}"


@dataclass(frozen=True)
class ListingsCsv:
    """The CSV as a frame of ``string[pyarrow]`` columns in file order (plus
    ``STRUCTURE_PROBLEM`` when some rows are malformed, those rows appended last)."""

    frame: pd.DataFrame
    encoding: str
    malformed: tuple[MalformedRow, ...]


def read_listings_csv(content: bytes) -> ListingsCsv:
    """Parse CSV bytes into text columns; malformed rows kept as described above.

    Raises ``CsvStructureError`` when the header is missing or repeats a name, when the text
    cannot be parsed, and when every data row is malformed (naming the first bad line).
    """
    encoding = detect_encoding(content)
    try:
        return _read(content, encoding)
    except pa.ArrowInvalid as exc:
        raise CsvStructureError(f"not a readable CSV: {exc}") from exc


def detect_encoding(content: bytes, chunk: int = 1 << 20) -> str:
    """``utf-8`` when ``content`` is valid UTF-8 (checked chunk by chunk), else ``latin-1``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(content), chunk):
            decoder.decode(content[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return ENCODINGS[1]
    return ENCODINGS[0]


def _header(content: bytes, encoding: str) -> list[str]:
    first = content.split(b"\n", 1)[0]
    names = pa_csv.read_csv(
        io.BytesIO(first + b"\n"), read_options=pa_csv.ReadOptions(encoding=encoding)
    ).column_names
    if not any(name.strip() for name in names):
        raise CsvStructureError("the first line is not a header")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CsvStructureError(f"the header repeats column(s) {repeated}")
    return names


def _read(content: bytes, encoding: str) -> ListingsCsv:
    header = _header(content, encoding)
    malformed: list[MalformedRow] = []
    table = _parse(content, encoding, header, malformed, threads=True)
    if malformed:  # again on one thread: only then does pyarrow report line numbers
        malformed.clear()
        table = _parse(content, encoding, header, malformed, threads=False)
    if table.num_rows == 0 and malformed:
        first = malformed[0].describe()
        raise CsvStructureError(f"no well-formed row; the first bad one is {first}")
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    if malformed:
        frame = _with_malformed(frame, malformed)
    return ListingsCsv(frame, encoding, tuple(malformed))


def _parse(
    content: bytes,
    encoding: str,
    header: list[str],
    malformed: list[MalformedRow],
    *,
    threads: bool,
) -> pa.Table:
    def invalid_row(row: pa_csv.InvalidRow) -> str:
        if row.text.strip():  # a line of spaces is a blank line
            malformed.append(
                MalformedRow(row.number, row.actual_columns, row.expected_columns, row.text)
            )
        return "skip"

    return pa_csv.read_csv(
        io.BytesIO(content),
        read_options=pa_csv.ReadOptions(encoding=encoding, use_threads=threads),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _with_malformed(frame: pd.DataFrame, malformed: list[MalformedRow]) -> pd.DataFrame:
    text = pd.ArrowDtype(pa.string())
    bad = pd.DataFrame(
        {name: pd.Series([None] * len(malformed), dtype=text) for name in frame.columns}
    )
    bad[STRUCTURE_PROBLEM] = pd.Series([m.describe() for m in malformed], dtype=text)
    frame[STRUCTURE_PROBLEM] = pd.Series([None] * len(frame), dtype=text)
    return pd.concat([frame, bad], ignore_index=True)
