"""The ticket-window page and API of the emergency box office, served by a real bridge
app synced to a real hub (SQLite) that the test then cuts off; the printed ticket (a
PDF whose QR image decodes to the credential) and the ESC/POS bytes a network printer
receives."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.boxoffice.printing import qr_png
from hardware_bridge.runtime import Bridge
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import TOKEN, LoopDriver, bridge_settings
from tests.bridge.emergency_kit import DAY, SLOT, allot, bridge_clock, certify, cut
from tests.support import hub_client, seed

STAFF = {"Authorization": "Bearer staff-token"}


class RecordingPrinter:
    """A TCP listener that keeps every byte a "printer" receives."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            self.data += chunk
        writer.close()
        self.closed.set()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def printer() -> AsyncIterator[RecordingPrinter]:
    p = RecordingPrinter()
    await p.start()
    yield p
    await p.close()


@pytest.fixture
async def window(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path, printer: RecordingPrinter
) -> AsyncIterator[tuple[TestClient, Bridge]]:
    hub = await hub_client(aiohttp_client, sqlite_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    proxy = LinkProxy(hub.server.port)
    await proxy.start()
    settings = bridge_settings(
        proxy.url,
        tmp_path / "b1.db",
        admin_token="staff-token",
        boxoffice_pin="2468",
        ticket_printer=f"127.0.0.1:{printer.port}",
        hub_timeout=30.0,  # a hang guard: the cut link refuses at once (2 s failed under load)
    )
    app = await create_app(
        settings, clock=bridge_clock(), drivers={"loop": LoopDriver()}, sync=False
    )
    client = await aiohttp_client(app)
    bridge = app[BRIDGE]
    await bridge.link.pull_config()
    await certify(hub, bridge)
    await allot(hub, "b1", 3)
    await bridge.link.sync_once()
    await cut(proxy, bridge)
    try:
        yield client, bridge
    finally:
        await proxy.close()


def _form(**over: str) -> dict[str, str]:
    form = {
        "product_id": "adult",
        "date": DAY.isoformat(),
        "slot": SLOT,
        "quantity": "2",
        "payment": "cash",
        "staff": "李",
        "sale_key": "k1",
    }
    form.update(over)
    return form


async def _sign_in(client: TestClient) -> None:
    resp = await client.post("/boxoffice/login", data={"pin": "nope"})
    assert resp.status == 401 and "口令错误" in await resp.text()
    resp = await client.post("/boxoffice/login", data={"pin": "2468"}, allow_redirects=False)
    assert resp.status == 303


async def test_guessing_the_pin_is_throttled(window: tuple[TestClient, Bridge]) -> None:
    """The PIN is short: after five wrong tries the page refuses even the right one for a
    while, as the handheld page does (one `hardware_bridge.pin.PinCheck` for both)."""
    client, _ = window
    for _ in range(5):
        resp = await client.post("/boxoffice/login", data={"pin": "0000"})
        assert resp.status == 401
    resp = await client.post("/boxoffice/login", data={"pin": "2468"}, allow_redirects=False)
    assert resp.status == 429 and "尝试次数过多" in await resp.text()
    assert "th_boxoffice" not in resp.cookies


async def test_page_sells_prints_and_refuses_past_the_allotment(
    window: tuple[TestClient, Bridge],
) -> None:
    client, bridge = window
    resp = await client.get("/boxoffice")
    assert "口令" in await resp.text() and "售出" not in await resp.text()
    resp = await client.post("/boxoffice/sell", data=_form())
    assert resp.status == 401  # not signed in
    await _sign_in(client)

    page = await (await client.get("/boxoffice")).text()
    assert "应急售票中" in page and "13:00-15:00" in page

    resp = await client.post("/boxoffice/sell", data=_form())
    page = await resp.text()
    assert resp.status == 200 and "已售出 2 张" in page, page
    order_id = re.search(r"订单 (b1-\S+)，", page).group(1)  # type: ignore[union-attr]
    again = await client.post("/boxoffice/sell", data=_form())  # the same form, twice
    assert order_id in await again.text()
    assert bridge.boxoffice.counts() == {"pending": 1}

    refused = await client.post("/boxoffice/sell", data=_form(sale_key="k2"))
    text = await refused.text()
    assert refused.status == 409 and "应急配额不足：仅剩 1 张" in text, text

    other_site = await client.post(
        "/boxoffice/sell", data=_form(sale_key="k3"), headers={"Origin": "http://evil.example"}
    )
    assert other_site.status == 403

    # the PDF: one page per ticket, each QR image decodes to that ticket's credential
    sale = bridge.boxoffice.order(order_id)
    assert sale is not None
    resp = await client.get(f"/boxoffice/orders/{order_id}/ticket.pdf")
    assert resp.status == 200 and resp.content_type == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(await resp.read()))
    assert len(pdf.pages) == 2
    for pdf_page, ticket in zip(pdf.pages, sale.tickets, strict=True):
        (image,) = pdf_page.images
        decoded = zxingcpp.read_barcodes(image.image)
        assert [d.text for d in decoded] == [ticket["credential"]]


async def test_api_sells_refuses_and_prints_on_escpos(
    window: tuple[TestClient, Bridge], printer: RecordingPrinter
) -> None:
    client, _ = window
    body: dict[str, Any] = {k: v for k, v in _form().items() if k != "sale_key"}
    body["quantity"] = 2
    assert (await client.post("/api/boxoffice/sales", json=body)).status == 401
    resp = await client.post("/api/boxoffice/sales", json={**body, "quantity": 0}, headers=STAFF)
    assert resp.status == 422
    resp = await client.post(
        "/api/boxoffice/sales", json={**body, "payment": "external"}, headers=STAFF
    )
    assert resp.status == 409 and (await resp.json())["code"] == "PAYMENT_REF_REQUIRED"
    resp = await client.post(
        "/api/boxoffice/sales",
        json={**body, "payment": "external", "payment_ref": "ALI-123"},
        headers=STAFF,
    )
    sale = await resp.json()
    assert resp.status == 201, sale
    assert sale["payment_ref"] == "ALI-123" and len(sale["tickets"]) == 2
    resp = await client.post("/api/boxoffice/sales", json=body, headers=STAFF)
    refused = await resp.json()
    assert resp.status == 409 and refused["code"] == "ALLOTMENT_EXHAUSTED", refused

    resp = await client.post(f"/api/boxoffice/orders/{sale['order_id']}/print", headers=STAFF)
    assert resp.status == 200 and (await resp.json())["printed"] == 2
    await asyncio.wait_for(printer.closed.wait(), 10)
    data = bytes(printer.data)
    for ticket in sale["tickets"]:
        assert ticket["credential"].encode() in data  # GS ( k: the printer's own QR of it
    assert data.count(b"\x1d(k") >= 2 * 3  # model, size, store (and print) per ticket
    assert "应急售票".encode("gb18030") in data
    assert data.count(b"\x1dV") == 2  # one cut per ticket

    status = await (await client.get("/api/boxoffice/status", headers=STAFF)).json()
    assert status["orders"] == {"pending": 1} and status["key_id"] == 128
    assert qr_png(ticket["credential"]).startswith(b"\x89PNG")
