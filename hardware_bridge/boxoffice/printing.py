"""The printed emergency ticket: a PDF with one QR code per ticket (fpdf2 + segno), and
the same on an ESC/POS thermal printer over the network (python-escpos) where one is
configured.

The QR code holds exactly the signed credential text (``TH1.…``): every gate reads it
the way it reads a ticket sold online. Chinese labels need a CJK font; the bridge uses
the first one it finds (`CJK_FONTS`, or ``TICKETHUB_BRIDGE_TICKET_FONT``) and prints
English labels when there is none, so a PC without the font still prints tickets.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import segno
from escpos.printer import Network
from fpdf import FPDF

from hardware_bridge.boxoffice.sales import Sale

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
QR_ERROR = "m"  # ~15 % recovery: survives a crease on thermal paper


def qr_png(text: str, scale: int = 8) -> bytes:
    """The QR code of `text` as a PNG (4-module quiet zone)."""
    buf = io.BytesIO()
    segno.make(text, error=QR_ERROR, micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def find_font(configured: str = "", candidates: Sequence[str] = CJK_FONTS) -> str | None:
    for path in (configured, *candidates):
        if path and Path(path).is_file():
            return path
    return None


def _labels(chinese: bool) -> dict[str, str]:
    if chinese:
        return {
            "title": "应急售票 · 电子门票",
            "date": "日期",
            "slot": "时段",
            "all_day": "全天",
            "ticket": "票号",
            "order": "订单",
            "paid": "付款",
            "cash": "现金",
            "external": "外部支付",
        }
    return {
        "title": "Emergency sale - ticket",
        "date": "Date",
        "slot": "Slot",
        "all_day": "all day",
        "ticket": "Ticket",
        "order": "Order",
        "paid": "Paid",
        "cash": "cash",
        "external": "external",
    }


def ticket_pdf(sale: Sale, venue_name: str = "", font: str | None = None) -> bytes:
    """One A6 page per ticket of the sale, each with its QR code."""
    pdf = FPDF(format=(105, 148))  # A6, in mm
    pdf.set_auto_page_break(False)
    family = "Helvetica"
    if font:
        pdf.add_font("cjk", fname=font)
        family = "cjk"
    words = _labels(font is not None)
    paid = words.get(sale.payment, sale.payment)
    if sale.payment_ref:
        paid += f" {sale.payment_ref}"
    for ticket in sale.tickets:
        pdf.add_page()
        pdf.set_font(family, size=13)
        pdf.cell(0, 8, words["title"], new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font(family, size=10)
        if venue_name and font:
            pdf.cell(0, 6, venue_name, new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.cell(
            0, 6, sale.product_name if font else sale.product_id, new_x="LMARGIN", new_y="NEXT"
        )
        pdf.cell(0, 6, f"{words['date']}: {sale.day}", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(
            0, 6, f"{words['slot']}: {sale.slot or words['all_day']}", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.image(io.BytesIO(qr_png(ticket["credential"])), x=(105 - 60) / 2, w=60, h=60)
        pdf.set_font(family, size=8)
        pdf.cell(0, 5, f"{words['ticket']}: {ticket['id']}", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 5, f"{words['order']}: {sale.order_id}", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 5, f"{words['paid']}: {paid}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def print_escpos(sale: Sale, host: str, port: int = 9100, timeout: float = 5.0) -> int:
    """Print every ticket of `sale` on a network ESC/POS printer; returns tickets printed.
    Blocking (sockets): call it in a thread. The QR code is the printer's own (GS ( k),
    so it holds the credential text exactly; labels are GB18030, what Chinese thermal
    printers take in their Chinese character mode (FS &)."""
    printer = Network(host, port=port, timeout=timeout)
    printer.open()
    try:
        for ticket in sale.tickets:
            printer.set(align="center", bold=True, double_height=True)
            _cjk(printer, "应急售票 电子门票\n")
            printer.set(align="left", bold=False, double_height=False)
            _cjk(printer, f"{sale.product_name}\n日期 {sale.day} 时段 {sale.slot or '全天'}\n")
            printer.set(align="center")
            printer.qr(ticket["credential"], size=6, native=True)
            printer.set(align="left")
            printer.text(f"{ticket['id']}\n{sale.order_id}\n")
            printer.cut()
    finally:
        printer.close()
    return len(sale.tickets)


def _cjk(printer: Network, text: str) -> None:
    printer._raw(b"\x1c\x26" + text.encode("gb18030") + b"\x1c\x2e")
