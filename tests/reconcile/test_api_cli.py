"""Reconciliation through its doors: the admin API and the `tickethub` commands, with
bad input answered in words (a status and a code, or an exit code and a line), never a
traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from typer.testing import CliRunner

from hub.cli import app
from hub.orders.records import ORD
from hub.reconcile.bill_writer import Txn, render
from hub.storage import migrate
from hub.storage.db import create_engine
from hub.storage.tables import VenueRow
from tests.reconcile.kit import DAY, MCH, NOON, paid_order
from tests.support import ADMIN, hub_client, hub_of

WECHAT = {"wechat": {"WECHAT_MCHID": MCH}}



def _bill() -> bytes:
    return render([Txn(NOON, "TH-1", 8000, "4201"), Txn(NOON, "TH-2", 999, "4202")], MCH)


async def test_import_list_ack_resolve_over_http(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url, channel_settings=WECHAT)
    async with hub_of(client).engine.begin() as conn:
        await conn.execute(insert(ORD), [paid_order("TH-1", 8000), paid_order("TH-2", 1000)])
    url = f"/api/admin/reconcile/statements?channel=wechat&date={DAY}&by=li"
    resp = await client.post(url, data=_bill(), headers=ADMIN)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["discrepancies_new"] == 1
    again = await (await client.post(url, data=_bill(), headers=ADMIN)).json()
    assert again["already_imported"] is True and again["discrepancies_new"] == 0

    listed = await (
        await client.get(f"/api/admin/reconcile/discrepancies?date={DAY}", headers=ADMIN)
    ).json()
    [d] = listed["discrepancies"]
    assert (d["kind"], d["rule"], d["ref"], d["state"]) == (
        "amount_mismatch",
        "wechat.pay.amount",
        "pay:TH-2",
        "open",
    )
    base = f"/api/admin/reconcile/discrepancies/{d['id']}"
    resp = await client.post(f"{base}/ack", json={"by": "li", "note": "asked"}, headers=ADMIN)
    assert (await resp.json())["state"] == "acknowledged"
    resp = await client.post(f"{base}/resolve", json={"by": "wang", "note": "fixed"}, headers=ADMIN)
    done = await resp.json()
    assert done["resolved"]["by"] == "wang" and done["acknowledged"]["note"] == "asked"
    resp = await client.post(f"{base}/resolve", json={"by": "wang", "note": "x"}, headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (409, "INVALID_STATE")

    refusals = [
        (url.replace(str(DAY), "2026-12-07"), _bill(), 422, "STATEMENT_REFUSED"),
        (url.replace("wechat", "ctrip"), _bill(), 422, "STATEMENT_REFUSED"),
        (url, _bill()[:200], 422, "STATEMENT_REFUSED"),
        (url.replace(f"date={DAY}", "date=soon"), _bill(), 400, "INVALID_REQUEST"),
    ]
    for path, body, status, code in refusals:
        resp = await client.post(path, data=body, headers=ADMIN)
        assert (resp.status, (await resp.json())["code"]) == (status, code), path
    bad = await client.post(url.replace(str(DAY), "2026-12-07"), data=_bill(), headers=ADMIN)
    assert (await bad.json())["details"]["line"] == 2
    for path, body, status in [
        ("/api/admin/reconcile/discrepancies/abc/ack", {"by": "a", "note": "b"}, 404),
        ("/api/admin/reconcile/discrepancies/12345/ack", {"by": "a", "note": "b"}, 404),
        (f"{base}/ack", {"by": "", "note": "b"}, 422),
    ]:
        assert (await client.post(path, json=body, headers=ADMIN)).status == status, path
    resp = await client.get("/api/admin/reconcile/discrepancies?kind=odd", headers=ADMIN)
    assert resp.status == 400


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


async def _prepare(url: str) -> None:
    await migrate.upgrade(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(VenueRow.__table__), [{"id": "v1", "name": "V", "timezone": "Asia/Shanghai"}]
        )
        await conn.execute(insert(ORD), [paid_order("TH-1", 8000), paid_order("TH-2", 1000)])
    await engine.dispose()


def test_cli_import_list_resolve_and_report(tmp_path: Path) -> None:
    """Synchronous: the commands run their own event loop, as they do for an operator."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    asyncio.run(_prepare(url))
    bill = tmp_path / "bill.csv"
    bill.write_bytes(_bill())
    env = {"TICKETHUB_CHANNEL_SETTINGS": json.dumps(WECHAT)}
    args = ("reconcile", "import", str(bill), "--channel", "wechat", "--date", str(DAY))
    first = _run(*args, "--database-url", url, env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["discrepancies_new"] == 1
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(_bill().decode("utf-8").encode("gbk"))
    refused = _run("reconcile", "import", str(gbk), *args[3:], "--database-url", url, env=env)
    assert refused.exit_code == 2
    assert "gbk.csv: line 1: the file is GBK-encoded" in refused.output
    assert "nothing imported" in refused.output and "Traceback" not in refused.output
    listed = json.loads(_run("reconcile", "list", "--database-url", url).output)
    assert [d["ref"] for d in listed] == ["pay:TH-2"]
    did = str(listed[0]["id"])
    ok = _run("reconcile", "resolve", did, "--by", "li", "--note", "ok", "--database-url", url)
    assert ok.exit_code == 0 and json.loads(ok.output)["state"] == "resolved"
    twice = _run("reconcile", "ack", did, "--by", "li", "--note", "x", "--database-url", url)
    assert twice.exit_code == 1 and "is resolved" in twice.output

    day = DAY.isoformat()
    report = _run("report", "daily", "--date", day, "--csv", "--database-url", url)
    assert report.exit_code == 0, report.output
    assert "2026-12-06,v1,wechat,adult,,2,2,0,0,0,90.00,0.00,90.00" in report.output
    xlsx = tmp_path / "day.xlsx"
    made = _run(
        "report", "daily", "--date", day, "--xlsx", "--output", str(xlsx), "--database-url", url
    )
    assert made.exit_code == 0, made.output
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:4] == ["venue", "channel", "product", "slot"]
    assert float(sheet["J2"].value) == 90.0
    unknown = _run("report", "daily", "--date", day, "--venue", "nowhere", "--database-url", url)
    assert unknown.exit_code == 2 and "unknown venue" in unknown.output
