"""CSV rosters: decoding, delimiter detection, reading rows, and the two CSV writers.

Agencies' CSV files come from Excel or WPS on Chinese Windows, so "CSV" may mean UTF-8
with a BOM, UTF-8 without, GBK/GB18030 (the "CSV (逗号分隔)" export), or UTF-16 tab
separated ("Unicode 文本"); and the separator is a comma, a semicolon (European locales)
or a tab. Everything is read from one bounded bytes object, never streamed from the
network.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence

from hub.domain import Visitor
from plugins.channel_agency.roster_fields import (
    HEADER_FIELDS,
    ID_TYPE_LABELS,
    REQUIRED_COLUMNS,
    header_key,
)
from plugins.channel_agency.roster_model import MAX_COLUMNS, UNREADABLE, RosterFileError, RowError

_DELIMITERS = ",;\t"
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SNIFF_CHARS = 16 * 1024
_HEADER_SEARCH_LINES = 10
_HEADER_LINE_CHARS = 4096

#: Column headings of the CSV and Excel files the hub writes (and its sandbox uploads).
WRITE_HEADER: tuple[str, ...] = ("姓名", "证件类型", "证件号码", "手机号")


def decode(data: bytes) -> str:
    """Bytes to text: UTF-16 when it says so, else UTF-8 (BOM or not), else GB18030.

    GB18030 is the superset of GBK and GB2312, so one fallback covers all Chinese Excel
    exports. Text that decodes but holds control characters is binary junk that happened
    to decode, and is refused the same way.
    """
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise RosterFileError(
            UNREADABLE, "file is not text in UTF-8 or GBK; save it as CSV UTF-8 or .xlsx"
        ) from None
    if _BINARY.search(text):
        raise RosterFileError(UNREADABLE, "file contains binary data; upload a CSV or .xlsx file")
    return text


def _recognized(line: str, delimiter: str) -> int:
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return 0
    fields = {HEADER_FIELDS.get(header_key(cell)) for cell in cells}
    return len(fields - {None})


def detect_delimiter(text: str) -> str:
    """The separator, found by where the header is.

    The header is the one line whose content we know, so the delimiter that splits one of
    the first lines into our column names is right even when ``csv.Sniffer`` is fooled
    (names with commas, a title row, a single data row). Without a recognizable header,
    the sniffer decides; failing that, a comma.
    """
    lines = [line[:_HEADER_LINE_CHARS] for line in text[:_SNIFF_CHARS].splitlines()]
    lines = lines[:_HEADER_SEARCH_LINES]
    best, best_score = "", 0
    for delimiter in _DELIMITERS:
        score = max((_recognized(line, delimiter) for line in lines), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score >= len(REQUIRED_COLUMNS):
        return best
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def csv_rows(text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number as Excel shows it, first :data:`MAX_COLUMNS` cells) for every record,
    blank ones included.

    Numbering counts records, not physical lines: a quoted cell with a line break is one
    row in Excel too.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(text))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, tuple(cells[:MAX_COLUMNS])
    except csv.Error:
        raise RosterFileError(UNREADABLE, f"malformed CSV near row {number + 1}") from None


# --- writers ------------------------------------------------------------------------------


def to_csv(visitors: Iterable[Visitor], *, excel_text: bool = True) -> bytes:
    """A roster as CSV the hub reads back to the same visitors: UTF-8 with a BOM (without
    it Excel on Chinese Windows reads UTF-8 as GBK and garbles the names), CRLF.

    ``excel_text`` puts a tab before ID numbers and phones, the usual trick so Excel keeps
    them as text instead of showing 1.10105E+17 and losing digits when the agency saves;
    the reader strips it.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WRITE_HEADER)
    lead = "\t" if excel_text else ""
    for v in visitors:
        writer.writerow(
            (
                v.name,
                ID_TYPE_LABELS[v.id_type],
                f"{lead}{v.id_number}" if v.id_number else "",
                f"{lead}{v.phone}" if v.phone else "",
            )
        )
    return out.getvalue().encode("utf-8-sig")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """Spreadsheet apps run a cell starting with = + - @ as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def report_csv(errors: Sequence[RowError], warnings: Sequence[RowError]) -> str:
    """The error report: one line per problem, by row, errors before warnings.

    Columns: row, severity, field, code, message. Encode it with ``utf-8-sig`` when
    sending it as a file, for the same Excel reason as :func:`to_csv`.
    """
    tagged = [(e, "error") for e in errors] + [(w, "warning") for w in warnings]
    tagged.sort(key=lambda t: (t[0].row, t[1] != "error"))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("row", "severity", "field", "code", "message"))
    for problem, severity in tagged:
        writer.writerow(
            (
                problem.row,
                severity,
                _inert(problem.field),
                _inert(problem.code),
                _inert(problem.message),
            )
        )
    return out.getvalue()
