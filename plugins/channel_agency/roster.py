"""Group rosters: read an agency's CSV or Excel file (or its JSON list) and check every
visitor, so a bad row is named and explained before the group is booked — not found
when a visitor is turned away at the gate.

Public API (import from here; the ``roster_*`` modules are its parts)::

    parse_roster(data, filename=..., content_type=..., max_rows=500, max_bytes=2 MiB,
                 today=None) -> RosterParse        # CSV / XLSX upload
    check_visitors(visitors, max_rows=500, today=None) -> RosterParse   # JSON roster
    validate_visitors(visitors, max_rows=500, today=None) -> list[RowError]
    roster_report_csv(errors, warnings) -> str      # report to open next to the sheet
    to_csv(visitors) -> bytes / to_xlsx(visitors) -> bytes   # what the sandbox uploads
    RowError(row, field, code, message); RosterParse(visitors, errors, warnings, rows)

Reading never raises on bad input: a file that is too big, damaged, binary or in an
unknown encoding comes back as one row-0 error (``ROSTER_TOO_LARGE``, ``UNREADABLE``).
Then the header row is found (the first of the first ten non-empty rows naming the name
and ID-number columns, so a title row above it is fine), and each visitor row is checked:

============================  =========================================================
``MISSING_COLUMN``            (row 0) no name or ID-number column; the message names it
``DUPLICATE_COLUMN``          (row 0) two columns mean the same field
``EMPTY_ROSTER``              (row 0) no visitor rows (e.g. only the header)
``TOO_MANY_ROWS``             (row 0) more than ``max_rows`` visitors; nothing checked
``MISSING_NAME``              the name cell is empty
``INVALID_NAME``              over 100 characters, digits, control characters
``MISSING_ID``                the ID-number cell is empty
``INVALID_ID_NUMBER``         ID card: shape, birth date, check digit; others: 5-20
                              letters/digits; or Excel turned it into a rounded number
``UNKNOWN_ID_TYPE``           an ID type we do not know (身份证, passport, 2, … are known)
``DUPLICATE_IN_GROUP``        the same ID number on an earlier row (named in the message)
``INVALID_PHONE``             error for a non-number or mistyped mobile; WARNING for a
                              landline or foreign number, which is kept as given
============================  =========================================================

Values are normalized first: full-width characters to ASCII, whitespace trimmed and
collapsed, ``x`` to ``X``, mainland mobiles to their 11 digits. A missing ID-type column,
or an empty ID-type cell, means a mainland ID card. Duplicates are keyed on the ID number
alone: two visitors cannot share one, whatever the type column says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from datetime import date

from hub.domain import Visitor
from plugins.channel_agency.roster_csv import csv_rows, decode, report_csv, to_csv
from plugins.channel_agency.roster_fields import (
    HEADER_FIELDS,
    ID_NUMBER,
    ID_TYPE,
    NAME,
    PHONE,
    REQUIRED_COLUMNS,
    cell_text,
    column_aliases,
    header_key,
)
from plugins.channel_agency.roster_model import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ROWS,
    DUPLICATE_COLUMN,
    EMPTY_ROSTER,
    FILE_ROW,
    MISSING_COLUMN,
    ROSTER_TOO_LARGE,
    TOO_MANY_ROWS,
    UNREADABLE,
    RosterFileError,
    RosterParse,
    RowError,
)
from plugins.channel_agency.roster_rules import check_records
from plugins.channel_agency.roster_xlsx import OLE2_MAGIC, XLSX_MAGIC, to_xlsx, xlsx_rows

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "RosterParse",
    "RowError",
    "check_visitors",
    "parse_roster",
    "roster_report_csv",
    "to_csv",
    "to_xlsx",
    "validate_visitors",
]

#: Header search depth, and how many empty rows in a row end the data: sheets styled
#: down to row 1,048,576 are common, and must not be read to the end.
HEADER_SEARCH_ROWS = 10
MAX_BLANK_RUN = 1000

_Rows = Iterator[tuple[int, tuple[object, ...]]]


def _file_error(code: str, message: str, field: str = "file") -> RosterParse:
    return RosterParse(errors=[RowError(FILE_ROW, field, code, message)])


def parse_roster(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    today: date | None = None,
) -> RosterParse:
    """Read and check an uploaded roster.

    The bytes decide the format (an .xlsx starts with ``PK\\x03\\x04``; anything else is
    read as CSV): browsers on Windows send ``application/vnd.ms-excel`` for CSV files and
    people rename files, so ``filename`` and ``content_type`` only sharpen the message
    when a file is not what it claims. ``today`` (venue-local) refuses ID numbers born
    in the future.
    """
    if len(data) > max_bytes:
        return _file_error(ROSTER_TOO_LARGE, f"file is larger than {max_bytes // 1024} KiB")
    if not data.strip():
        return _file_error(EMPTY_ROSTER, "the file is empty", field="roster")
    claims_xlsx = (filename or "").lower().endswith((".xlsx", ".xlsm")) or (
        "spreadsheetml" in (content_type or "").lower()
    )
    try:
        if data.startswith(XLSX_MAGIC):
            rows: _Rows = xlsx_rows(data, max_bytes=max_bytes)
        elif data.startswith(OLE2_MAGIC):
            raise RosterFileError(
                UNREADABLE,
                "old .xls files and password-protected workbooks are not supported; "
                "save as .xlsx or CSV",
            )
        else:
            rows = _text_rows(data, claims_xlsx=claims_xlsx)
        with closing(rows):
            return _parse_rows(rows, max_rows=max_rows, today=today)
    except RosterFileError as exc:
        return _file_error(exc.code, exc.message)


def _text_rows(data: bytes, *, claims_xlsx: bool) -> _Rows:
    try:
        text = decode(data)
    except RosterFileError:
        if claims_xlsx:
            raise RosterFileError(UNREADABLE, "not a valid .xlsx file") from None
        raise
    if text.lstrip()[:1] == "<":
        # Many web systems export an HTML table named .xls.
        raise RosterFileError(
            UNREADABLE, "this is a web page, not a sheet; open it in Excel and save as .xlsx"
        )
    return csv_rows(text)


def _is_blank(cells: Iterable[object]) -> bool:
    return all(not cell_text(c) for c in cells)


def _map_header(cells: Sequence[object]) -> dict[str, list[int]]:
    columns: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        fld = HEADER_FIELDS.get(header_key(cell))
        if fld is not None:
            columns.setdefault(fld, []).append(index)
    return columns


def _parse_rows(rows: _Rows, *, max_rows: int, today: date | None) -> RosterParse:
    columns: dict[str, list[int]] | None = None
    first: dict[str, list[int]] | None = None
    seen = blank_run = 0
    for _number, cells in rows:
        if _is_blank(cells):
            blank_run += 1
            if blank_run >= MAX_BLANK_RUN:
                break
            continue
        blank_run = 0
        mapped = _map_header(cells)
        first = mapped if first is None else first
        if all(f in mapped for f in REQUIRED_COLUMNS):
            columns = mapped
            break
        seen += 1
        if seen >= HEADER_SEARCH_ROWS:
            break
    if columns is None:
        if first is None:
            return _file_error(EMPTY_ROSTER, "the file has no rows", field="roster")
        return RosterParse(
            errors=[
                RowError(FILE_ROW, f, MISSING_COLUMN, f"missing column {f} ({column_aliases(f)})")
                for f in REQUIRED_COLUMNS
                if f not in first
            ]
        )
    doubled = [f for f, idx in columns.items() if len(idx) > 1]
    if doubled:
        return RosterParse(
            errors=[
                RowError(FILE_ROW, f, DUPLICATE_COLUMN, f"two columns for {f}; keep one")
                for f in doubled
            ]
        )
    where = {f: idx[0] for f, idx in columns.items()}
    records: list[tuple[int, dict[str, object]]] = []
    blank_run = 0
    for number, cells in rows:
        values = {f: cells[i] if i < len(cells) else None for f, i in where.items()}
        # A row with only an ID type (a template's dropdown) or only a serial number
        # is not a visitor.
        if _is_blank(values.get(f) for f in (NAME, ID_NUMBER, PHONE)):
            blank_run += 1
            if blank_run >= MAX_BLANK_RUN:
                break
            continue
        blank_run = 0
        if len(records) >= max_rows:
            return _too_many(max_rows)
        records.append((number, values))
    return check_records(records, today=today, typed=ID_TYPE in where)


def _too_many(max_rows: int) -> RosterParse:
    return _file_error(
        TOO_MANY_ROWS, f"more than {max_rows} visitors; split the group", field="roster"
    )


# --- JSON rosters -------------------------------------------------------------------------


def check_visitors(
    visitors: Sequence[Visitor], *, max_rows: int = DEFAULT_MAX_ROWS, today: date | None = None
) -> RosterParse:
    """Check a roster that came as JSON (already :class:`Visitor` objects), by the same
    rules as a file; rows are positions from 1.

    Use the returned ``visitors``, not the input: they are normalized (full-width digits,
    ``+86``, spaces), and an order stored with the raw values would not match the same
    visitor's ID at the gate or in the per-ID limits.
    """
    if len(visitors) > max_rows:
        return _too_many(max_rows)
    records = [
        (
            position,
            {NAME: v.name, ID_TYPE: v.id_type.value, ID_NUMBER: v.id_number, PHONE: v.phone},
        )
        for position, v in enumerate(visitors, start=1)
    ]
    return check_records(records, today=today, typed=True)


def validate_visitors(
    visitors: Sequence[Visitor], *, max_rows: int = DEFAULT_MAX_ROWS, today: date | None = None
) -> list[RowError]:
    """Only the errors of :func:`check_visitors` (warnings do not block a roster)."""
    return check_visitors(visitors, max_rows=max_rows, today=today).errors


def roster_report_csv(errors: Sequence[RowError], warnings: Sequence[RowError] = ()) -> str:
    """The problems as CSV (row, severity, field, code, message), sorted by row, for the
    agency to open next to its sheet. Send it encoded as ``utf-8-sig`` so Excel shows the
    text right."""
    return report_csv(errors, warnings)
