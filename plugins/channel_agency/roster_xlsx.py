"""Excel (.xlsx) rosters: reading the first sheet safely, and writing one.

An .xlsx file is a zip of XML parts, and a 2 MiB upload can inflate to gigabytes, so the
archive's declared sizes are checked before openpyxl opens it (zipfile never inflates a
member past its declared size). openpyxl reads in read-only, streaming mode; rows are
pulled one by one so the caller can stop at its row limit.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterable, Iterator

from hub.domain import Visitor
from plugins.channel_agency.roster_csv import WRITE_HEADER
from plugins.channel_agency.roster_fields import ID_TYPE_LABELS
from plugins.channel_agency.roster_model import MAX_COLUMNS, UNREADABLE, RosterFileError

XLSX_MAGIC = b"PK\x03\x04"
#: The legacy binary format (.xls) and password-protected .xlsx are OLE2 containers.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Inflated size of the whole archive allowed per byte of upload limit.
INFLATE_RATIO = 16

_DAMAGED = "could not read the Excel file; it may be damaged or not .xlsx"


def _check_archive(data: bytes, max_inflated: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except Exception:  # BadZipFile, EOFError, NotImplementedError (zip version 6.4)…
        raise RosterFileError(UNREADABLE, _DAMAGED) from None
    if inflated > max_inflated:
        raise RosterFileError(UNREADABLE, "Excel file expands too much; save it as CSV")


def xlsx_rows(data: bytes, *, max_bytes: int) -> Iterator[tuple[int, tuple[object, ...]]]:
    """(sheet row number, first :data:`MAX_COLUMNS` cell values) of the first worksheet,
    empty rows included so the numbers match what Excel shows.

    Cells keep their type: an ID number typed as a number comes back as ``int`` (every
    digit kept) or ``float`` (digits lost); the field rules tell them apart. Any failure
    inside openpyxl — truncated archive, broken XML, a chartsheet — is
    :class:`RosterFileError`: the file is the sender's problem, never the hub's crash.
    """
    # openpyxl is imported here, not with the module: every hub start loads this
    # plugin, and openpyxl costs ~60 ms of CPU that only a roster upload or download needs.
    from openpyxl import load_workbook

    _check_archive(data, max_bytes * INFLATE_RATIO)
    try:
        # openpyxl warns about every extension it drops (data validation, conditional
        # formats): noise for a reader, and not for the agency to fix.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # an untrusted file can break a third-party parser in any way
        raise RosterFileError(UNREADABLE, _DAMAGED) from None
    try:
        if not book.worksheets:
            raise RosterFileError(UNREADABLE, "the Excel file has no worksheet")
        sheet = book.worksheets[0]
        # The <dimension> tag is often wrong in files from other tools, and openpyxl's
        # read-only mode would stop at it; the caller bounds the rows instead.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        number = 0
        while True:
            number += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cells = next(rows)
            except StopIteration:
                return
            except Exception:
                raise RosterFileError(UNREADABLE, _DAMAGED) from None
            yield number, tuple(cells)
    finally:
        book.close()


def to_xlsx(visitors: Iterable[Visitor]) -> bytes:
    """A roster as an .xlsx the hub reads back to the same visitors. ID numbers and phones
    are text cells formatted as text (``@``), so an agency editing the file in Excel does
    not turn them into rounded numbers."""
    from openpyxl import Workbook  # see xlsx_rows: only when a roster is written

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "roster"
    sheet.append(list(WRITE_HEADER))
    for v in visitors:
        sheet.append([v.name, ID_TYPE_LABELS[v.id_type], v.id_number or "", v.phone or ""])
    for column in ("C", "D"):
        sheet.column_dimensions[column].width = 22
        for cell in sheet[column]:
            cell.number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
