"""``tickethub_reconcile_open_discrepancies{channel}`` on /metrics: read from the database
at scrape time (every hub agrees), back to 0 once people acknowledged or resolved them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from hub.clock import FixedClock
from hub.orders.records import ORD
from hub.reconcile import store
from hub.reconcile.bill_writer import Txn, render
from hub.reconcile.service import import_statement
from tests.reconcile.kit import DAY, MCH, NOON, paid_order
from tests.support import T0, hub_client, hub_of


def _open(metrics: str, channel: str) -> float | None:
    prefix = f'tickethub_reconcile_open_discrepancies{{channel="{channel}"}}'
    found = [m for m in metrics.splitlines() if m.startswith(prefix)]
    return float(found[0].split()[-1]) if found else None


async def test_open_discrepancies_per_channel(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url, clock=FixedClock(T0), metrics_db_seconds=0)
    hub = hub_of(client)
    async with hub.engine.begin() as conn:
        await conn.execute(insert(ORD), [paid_order("TH-1", 8000), paid_order("TH-2", 1000)])
    # TH-2 billed short, TH-3 unknown to the hub, TH-1 missing from the bill
    bill = render([Txn(NOON, "TH-2", 999, "4202"), Txn(NOON, "TH-3", 500, "4203")], MCH)
    done = await import_statement(
        hub.engine, channel="wechat", day=DAY, raw=bill, merchant=MCH, by="t", now=T0
    )
    assert done.new == 3
    assert _open(await (await client.get("/metrics")).text(), "wechat") == 3.0

    async with hub.engine.connect() as conn:
        ids = [d["id"] for d in await store.listing(conn, day=DAY)]
    await store.move(hub.engine, ids[0], "acknowledged", by="li", note="asked", now=T0)
    await store.move(hub.engine, ids[1], "resolved", by="li", note="fine", now=T0)
    assert _open(await (await client.get("/metrics")).text(), "wechat") == 1.0
    await store.move(hub.engine, ids[2], "resolved", by="li", note="fine", now=T0)
    assert _open(await (await client.get("/metrics")).text(), "wechat") == 0.0
