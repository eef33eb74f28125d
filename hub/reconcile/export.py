"""The day report as a file finance opens: CSV (UTF-8 with BOM, so Excel on a Chinese
Windows reads the names right) or XLSX (money as numbers with two decimals, so the sheet
can sum them)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from hub.reconcile.report import DayReport

COLUMNS = (
    "venue",
    "channel",
    "product",
    "slot",
    "orders",
    "tickets_sold",
    "refunded",
    "used",
    "not_shown",
    "gross",
    "refunds",
    "net",
)
MONEY = {"gross", "refunds", "net"}


def _rows(report: DayReport) -> list[list[str | int]]:
    rows: list[list[str | int]] = [[r.as_dict()[c] for c in COLUMNS] for r in report.rows]
    totals = report.totals()
    rows.append(["TOTAL", "", "", "", *(totals[c] for c in COLUMNS[4:])])
    return rows


def to_csv(report: DayReport) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["date", *COLUMNS])
    for values in _rows(report):
        writer.writerow([report.day.isoformat(), *values])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(report: DayReport) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = report.day.isoformat()
    ws.append(list(COLUMNS))
    for values in _rows(report):
        cells: list[str | int | Decimal] = []
        for name, value in zip(COLUMNS, values, strict=True):
            cells.append(Decimal(str(value)) if name in MONEY else value)
        ws.append(cells)
    for col in ("J", "K", "L"):
        for cell in ws[col][1:]:
            cell.number_format = "0.00"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
