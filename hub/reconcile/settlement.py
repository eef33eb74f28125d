"""An OTA's settlement file read by its channel spec's ``[settlement]`` section, strictly:
a file we half-understand must not turn into discrepancies.

Columns are found by their header titles (their order may change, extra columns are
ignored), in the row the spec names; CSV is decoded with the spec's encodings in order
(UTF-8 with a BOM and GBK are what the portals write), XLSX read with openpyxl. Refused,
naming the line: a required column missing, a file in an undeclared encoding, a short
row (a truncated download), a missing total row when the spec declares one, a line of
another day, another merchant id, an amount or date that does not read, a state word the
spec does not map.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.channels.spec_settlement import Settlement
from hub.reconcile.money import fen_of
from hub.reconcile.wechat_bill import BillError

Cell = Any  # str from CSV; str, int, float, datetime or None from XLSX


@dataclass(slots=True)
class SettlementLine:
    line_no: int
    partner_order_id: str
    day: date
    amount: int  # fen
    state: str = ""  # paid | refunded | used | '' (no state column)
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class SettlementFile:
    day: date
    sha256: str
    lines: list[SettlementLine]
    totals: dict[str, Any]


def _decode(raw: bytes, spec: Settlement) -> str:
    for encoding in spec.encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    try:
        raw.decode("utf-8")
        name = "UTF-8"
    except UnicodeDecodeError as exc:
        name = "GBK" if _is_gbk(raw) else "an unknown encoding"
        bad = raw.count(b"\n", 0, exc.start) + 1
    else:
        bad = 1
    raise BillError(
        bad,
        f"the file is {name}; this channel's settlement files are "
        f"{' or '.join(spec.encodings)} (re-export it, or declare the encoding in the spec)",
    )


def _is_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gbk")
    except UnicodeDecodeError:
        return False
    return True


def _csv_rows(raw: bytes, spec: Settlement) -> Iterator[list[Cell]]:
    text = _decode(raw, spec)
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter)


def _xlsx_rows(raw: bytes, spec: Settlement) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook  # only when a workbook comes

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise BillError(0, f"not a readable XLSX workbook (truncated?): {exc}") from None
    try:
        if spec.sheet is not None and spec.sheet not in book.sheetnames:
            raise BillError(0, f"no sheet {spec.sheet!r} (sheets: {', '.join(book.sheetnames)})")
        sheet = book[spec.sheet] if spec.sheet else book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        book.close()


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip().lstrip("`\t").strip()


def _day(cell: Cell, formats: Sequence[str], line: int, what: str) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BillError(line, f"{what}: {text[:40]!r} is not a date like {' or '.join(formats)}")


def _fen(cell: Cell, unit: str, line: int, what: str) -> int:
    if isinstance(cell, float):
        text = repr(cell)  # XLSX numbers: the shortest text that reads back the same
    else:
        text = _text(cell).replace(",", "").removeprefix("¥").removeprefix("￥")
    try:
        if unit == "yuan":
            return fen_of(text)
        value = Decimal(text)
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(text)
        return int(value)
    except (InvalidOperation, ValueError):
        raise BillError(line, f"{what}: {text[:40]!r} is not an amount in {unit}") from None


def parse(
    raw: bytes, spec: Settlement, *, day: date, merchant: str, fmt: str = ""
) -> SettlementFile:
    """The file's lines for `day`, every one checked, or BillError naming the line."""
    fmt = fmt or ("xlsx" if raw[:2] == b"PK" else "csv")
    if fmt not in spec.formats:
        raise BillError(0, f"a {fmt.upper()} file; this channel sends {', '.join(spec.formats)}")
    rows = list(_xlsx_rows(raw, spec) if fmt == "xlsx" else _csv_rows(raw, spec))
    at = spec.header_row
    if len(rows) < at:
        raise BillError(len(rows) + 1, "the file ends before its header row")
    header = [_text(c) for c in rows[at - 1]]
    where: dict[str, int] = {}
    missing = []
    for field, col in spec.columns.items():
        if col.header in header:
            where[field] = header.index(col.header)
        elif col.required:
            missing.append(col.header)
    if missing:
        raise BillError(
            at,
            f"not this channel's settlement header: missing {', '.join(missing)} "
            f"(found: {', '.join(h for h in header if h)[:200]})",
        )
    if "merchant" in where and not merchant:
        raise BillError(at, f"no merchant id to check the file against ({spec.merchant_setting})")
    width = max(where.values()) + 1
    lines: list[SettlementLine] = []
    closed = False
    for n, row in enumerate(rows[at:], start=at + 1):
        cells = [_text(c) for c in row]
        if not any(cells):
            continue
        if spec.footer_label and cells[0].startswith(spec.footer_label):
            closed = True
            for extra_n, extra in enumerate(rows[n:], start=n + 1):
                if any(_text(c) for c in extra):
                    raise BillError(extra_n, "text after the total row")
            break
        if len(row) < width:
            raise BillError(n, f"{len(row)} fields, the header has {len(header)}: truncated?")
        lines.append(_line(row, n, where, spec, day, merchant))
    if spec.footer_label and not closed:
        raise BillError(len(rows), f"the file ends without its {spec.footer_label} row: truncated?")
    digest = hashlib.sha256(raw).hexdigest()
    totals = {"lines": len(lines), "amount_fen": sum(ln.amount for ln in lines), "format": fmt}
    return SettlementFile(day, digest, lines, totals)


def _line(
    row: list[Cell], n: int, where: dict[str, int], spec: Settlement, day: date, merchant: str
) -> SettlementLine:
    def cell(field: str) -> Cell:
        return row[where[field]]

    order_id = _text(cell("partner_order_id"))
    if not order_id:
        raise BillError(n, f"{spec.columns['partner_order_id'].header} is empty")
    when = _day(cell("day"), spec.date_formats, n, spec.columns["day"].header)
    if when != day:
        raise BillError(n, f"{spec.columns['day'].header} {when} is not the statement's day {day}")
    if "merchant" in where and _text(cell("merchant")) != merchant:
        got = _text(cell("merchant"))
        raise BillError(n, f"{spec.columns['merchant'].header} {got!r} is not ours ({merchant})")
    amount = _fen(cell("amount"), spec.amount_unit, n, spec.columns["amount"].header)
    state = ""
    if "state" in where:
        word = _text(cell("state"))
        if word not in spec.states:
            raise BillError(
                n,
                f"{spec.columns['state'].header} {word!r} is none of {', '.join(spec.states)}",
            )
        state = spec.states[word]
    quantity = None
    if "quantity" in where and _text(cell("quantity")):
        try:
            quantity = int(Decimal(_text(cell("quantity"))))
        except InvalidOperation:
            raise BillError(n, f"{spec.columns['quantity'].header}: not a number") from None
    return SettlementLine(n, order_id, when, amount, state, quantity)
