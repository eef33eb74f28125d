"""The reconciliation pages over HTTP, on both databases: the day report and its exports
(the same figures and files as the CLI and the admin API), statements uploaded (refused
whole, with the line, when malformed), discrepancies acknowledged and resolved with a
note — each move in one transaction with its audit line — and who may do what."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from hub.clock import FixedClock
from hub.console.audit import AUDIT
from hub.orders.records import ORD
from hub.reconcile.bill_writer import Txn, render
from hub.reconcile.wechat_bill import CHINA
from hub.storage.reconcile_tables import DiscrepancyRow, StatementRow
from hub.storage.tables import VenueRow
from sandbox.ota.settlement import Settled, SettlementBook
from tests.console.kit import console_client, signed_in
from tests.reconcile.kit import DAY, MCH, NOON, paid_order
from tests.support import hub_of

SETTINGS = {"wechat": {"WECHAT_MCHID": MCH}, "ctrip": {"CTRIP_ACCOUNT_ID": "acct-1"}}
DISC = DiscrepancyRow.__table__
MONEY = ["90.00", "0.00", "90.00"]  # gross, refunds, net of the two seeded orders



async def _client(aiohttp_client: Any, db_url: str) -> Any:
    client = await console_client(
        aiohttp_client,
        db_url,
        clock=FixedClock(datetime(2026, 12, 7, 11, 0, tzinfo=CHINA)),
        channel_settings=SETTINGS,
    )
    async with hub_of(client).engine.begin() as conn:
        await conn.execute(
            insert(VenueRow.__table__), [{"id": "v1", "name": "V", "timezone": "Asia/Shanghai"}]
        )
        await conn.execute(insert(ORD), [paid_order("TH-1", 8000), paid_order("TH-2", 1000)])
    return client


def _bill() -> bytes:
    """WeChat's bill of DAY: TH-2 billed 9.99 where the hub sold it at 10.00."""
    return render([Txn(NOON, "TH-1", 8000, "4201"), Txn(NOON, "TH-2", 999, "4202")], MCH)


async def _audit(client: Any, action: str) -> list[Any]:
    async with hub_of(client).engine.connect() as conn:
        rows = await conn.execute(
            select(AUDIT).where(AUDIT.c.action == action).order_by(AUDIT.c.id)
        )
        return list(rows.all())


async def _count(client: Any, table: Any) -> int:
    async with hub_of(client).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar() or 0)


def _upload(token: str, channel: str, raw: bytes, name: str, day: date = DAY) -> Any:
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("channel", channel)
    form.add_field("date", day.isoformat())
    form.add_field("file", raw, filename=name, content_type="application/octet-stream")
    return form


async def test_day_report_page_and_its_exports(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    await signed_in(client, "watch")
    page = await client.get("/console/reconcile/report")  # yesterday (the clock's 7 Dec)
    text = await page.text()
    assert page.status == 200 and "2026-12-06" in text
    assert 'data-channel="wechat"' in text and '<td class="num gross">90.00</td>' in text

    resp = await client.get(f"/console/reconcile/report.csv?date={DAY}&venue=v1")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert 'filename="daily-2026-12-06-v1.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert rows[0][:4] == ["date", "venue", "channel", "product"]
    assert rows[1] == ["2026-12-06", "v1", "wechat", "adult", "", "2", "2", "0", "0", "0", *MONEY]
    assert rows[-1][1] == "TOTAL"

    resp = await client.get(f"/console/reconcile/report.xlsx?date={DAY}")
    assert resp.status == 200
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert sheet is not None and float(sheet["J2"].value) == 90.0

    empty = await (await client.get("/console/reconcile/report?date=2026-12-01")).text()
    assert "data-channel=" not in empty
    assert (await client.get("/console/reconcile/report?venue=nowhere")).status == 404
    assert (await client.get("/console/reconcile/report?date=soon")).status == 400


async def test_discrepancies_upload_ack_resolve_with_audit(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    oper = await signed_in(client, "oper")
    resp = await client.post(
        "/console/reconcile/upload", data=_upload(oper, "wechat", _bill(), "bill.csv")
    )
    assert resp.status == 403  # importing is for supervisors
    assert await _count(client, StatementRow.__table__) == 0

    sup = await signed_in(client, "super")
    resp = await client.post(
        "/console/reconcile/upload?channel=wechat",
        data=_upload(sup, "wechat", _bill(), "bill.csv"),
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"].startswith("/console/reconcile/discrepancies?channel=wechat")
    page = await (await client.get(resp.headers["Location"])).text()
    assert "2 行，新增差异 1 条" in page  # zh_CN, the default language
    [imported] = await _audit(client, "statement.upload")
    assert imported.actor == "super" and imported.after["discrepancies_new"] == 1
    assert imported.target == f"statement:wechat:{DAY}"
    async with hub_of(client).engine.connect() as conn:
        disc_id = (await conn.execute(select(DISC.c.id))).scalar_one()
    assert f'data-id="{disc_id}" data-state="open"' in page
    assert '<td class="num hub-amount">10.00</td>' in page
    assert '<td class="num partner-amount">9.99</td>' in page
    again = await client.post(
        "/console/reconcile/upload", data=_upload(sup, "wechat", _bill(), "bill.csv")
    )
    assert "的这份对账单已导入过" in await again.text()

    watch = await signed_in(client, "watch")
    page = await (await client.get("/console/reconcile/discrepancies")).text()
    assert f'data-id="{disc_id}"' in page and "resolve-button" not in page
    assert 'id="upload-form"' not in page
    base = f"/console/reconcile/discrepancies/{disc_id}"
    resp = await client.post(f"{base}/resolve", data={"csrf_token": watch, "note": "x"})
    assert resp.status == 403

    oper = await signed_in(client, "oper")
    resp = await client.post(f"{base}/ack", data={"note": "asked"})
    assert resp.status == 403  # no CSRF token
    resp = await client.post(f"{base}/ack", data={"csrf_token": oper, "note": "  "})
    assert resp.status == 422 and 'id="reconcile-error"' in await resp.text()
    resp = await client.post(
        f"{base}/ack?state=open",
        data={"csrf_token": oper, "note": "asked WeChat support"},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"].endswith(f"?state=open&done=ack:{disc_id}")
    resp = await client.post(f"{base}/ack", data={"csrf_token": oper, "note": "twice"})
    assert resp.status == 409
    resp = await client.post(
        f"{base}/resolve", data={"csrf_token": oper, "note": "refunded 0.01 by hand"}
    )
    assert resp.status == 200 and f'data-id="{disc_id}" data-state="resolved"' in (
        await resp.text()
    )
    ack = await _audit(client, "discrepancy.ack")
    resolve = await _audit(client, "discrepancy.resolve")
    assert [(a.actor, a.target) for a in ack] == [("oper", f"discrepancy:{disc_id}")]
    assert ack[0].before["state"] == "open" and ack[0].after == {
        "state": "acknowledged",
        "note": "asked WeChat support",
    }
    assert resolve[0].before["state"] == "acknowledged"
    assert resolve[0].after == {"state": "resolved", "note": "refunded 0.01 by hand"}

    for query, shown in [
        ("state=resolved", True),
        ("state=open", False),
        ("channel=ctrip", False),
        (f"date={DAY}&channel=wechat", True),
        ("date=2026-12-05", False),
    ]:
        page = await (await client.get(f"/console/reconcile/discrepancies?{query}")).text()
        assert (f'data-id="{disc_id}"' in page) is shown, query
    assert (await client.post(f"{base}0/ack", data={"csrf_token": oper, "note": "n"})).status == 404
    assert (await client.post(f"{base}x/ack", data={"csrf_token": oper, "note": "n"})).status == 404


async def test_malformed_settlement_file_is_refused_by_line(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    async with hub_of(client).engine.begin() as conn:
        await conn.execute(insert(ORD), [paid_order("C-1", 20000, "ctrip")])
    sup = await signed_in(client, "super")
    book = SettlementBook("ctrip")
    book.add(Settled("C-1", NOON, 20000, 1, "paid"))
    book.add(Settled("C-9", NOON, 5000, 1, "paid"))
    good = book.write(DAY, merchant="acct-1")
    bad = good.replace(b",50.00,", b",fifty,")  # the amount on C-9's line (line 3)
    resp = await client.post(
        "/console/reconcile/upload", data=_upload(sup, "ctrip", bad, "ctrip-1206.csv")
    )
    text = await resp.text()
    assert resp.status == 422, text
    assert "ctrip-1206.csv 被拒绝，未导入任何内容：line 3: " in text
    assert await _count(client, StatementRow.__table__) == 0
    assert await _count(client, DISC) == 0

    resp = await client.post(
        "/console/reconcile/upload", data=_upload(sup, "nowhere", good, "x.csv")
    )
    assert resp.status == 422 and "declares no settlement file" in await resp.text()
    resp = await client.post(
        "/console/reconcile/upload",
        data=_upload(sup, "ctrip", book.write(DAY, fmt="xlsx", merchant="acct-1"), "c.xlsx"),
        allow_redirects=False,
    )
    assert resp.status == 303
    async with hub_of(client).engine.connect() as conn:
        refs = (await conn.execute(select(DISC.c.ref))).scalars().all()
    assert [r.endswith("C-9") for r in refs] == [True]  # at ctrip, not in the hub
    oper = await signed_in(client, "oper")
    resp = await client.post("/console/reconcile/fetch", data={"csrf_token": oper})
    assert resp.status == 403  # fetching is for supervisors
