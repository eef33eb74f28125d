"""WeChat bills fetched by the hub from the WeChat simulator (v3 tradebill with its signed
download and hash, v2 downloadbill), and the daily job that imports them: claimed once by
two hubs on one database, discrepancies the simulator was told to make found, the alert
rule ``reconcile_discrepancies`` opened by the job's import."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from hub.reconcile import claims, store
from hub.reconcile.wechat_bill import CHINA, parse
from hub.sdk import StatementUnavailable
from plugins.channel_wechat.channel import WeChatChannel
from tests.support import ADMIN
from tests.wechat.kit import PRICE, SLOT, World, start


def today_china() -> date:
    return datetime.now(CHINA).date()


def bill_ready_at(day: date) -> datetime:
    """10:05 China time the day after `day`: when the hub's job fetches day's bill."""
    return datetime.combine(day + timedelta(days=1), time(10, 5), CHINA).astimezone(UTC)


def wechat(w: World) -> WeChatChannel:
    channel = w.hub.plugins.channels.get("wechat")
    assert isinstance(channel, WeChatChannel)
    return channel


async def sell(w: World, n: int, *, refund_one: bool = False) -> list[str]:
    """`n` paid WeChat orders of one ticket (the first refunded when asked): their
    out_trade_no. Waits until WeChat settled the refund."""
    out: list[str] = []
    mp = await w.visitor(f"o-rec-{n}")
    for i in range(n):
        created = await mp.order(f"ck-rec-{n}-{i:05d}", "adult", w.day, SLOT, 1)
        assert created.status == 201, created
        await (await w.pay(created)).wait()
        out.append(created.body["order"]["out_trade_no"])
    if refund_one:
        assert (await mp.refund(out[0], "rq-rec-1")).ok
        await w.settled_refunds(out[0], 1)
    return out


def to_tomorrow_ten(w: World) -> None:
    """WeChat's clock to 10:01 tomorrow (China): today's bill now exists."""
    target = datetime.combine(today_china() + timedelta(days=1), time(10, 1), CHINA)
    w.sim.clock.advance(target.timestamp() - w.sim.clock.now())


@pytest.mark.parametrize("version", ["v3", "v2"])
async def test_fetch_bill_in_the_real_format(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, version: str
) -> None:
    w = await start(aiohttp_client, db_url, stack, pay_version=version)
    # (v2 refunds need the merchant's TLS certificate: the v3 run covers refund lines)
    refunds_too = version == "v3"
    paid = await sell(w, 3, refund_one=refunds_too)
    day = today_china()
    with pytest.raises(StatementUnavailable) as early:  # before 10:00 the next day
        await wechat(w).fetch_statement(day)
    # v3 says the bill is being written (try later); v2 knows only "No Bill Exist"
    assert (early.value.retryable, early.value.empty) == (
        (True, False) if version == "v3" else (False, True)
    )
    to_tomorrow_ten(w)
    statement = await wechat(w).fetch_statement(day)
    assert statement.merchant == w.sim.config.mchid
    text = statement.raw.decode()
    assert text.splitlines()[1].startswith("`") and "总交易单数" in text
    bill = parse(statement.raw, day=day, merchant=statement.merchant)
    pays = sorted(ln.out_trade_no for ln in bill.lines if not ln.is_refund)
    refunds = [ln for ln in bill.lines if ln.is_refund]
    assert pays == sorted(paid) and all(ln.amount == PRICE for ln in bill.lines)
    assert [r.out_trade_no for r in refunds] == paid[:1] if refunds_too else not refunds
    assert bill.totals["总交易单数"] == str(3 + len(refunds))
    assert bill.totals["订单总金额"] == "300.00"
    # a day without transactions has no bill: WeChat says so, the hub says "empty"
    with pytest.raises(StatementUnavailable) as none:
        await wechat(w).fetch_statement(day - timedelta(days=3))
    assert none.value.empty and not none.value.retryable


async def test_v3_download_cut_short_is_refused_by_its_hash(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack)
    await sell(w, 1)
    to_tomorrow_ten(w)
    w.sim.bills.faults.truncate = True
    with pytest.raises(StatementUnavailable, match="HASH_MISMATCH") as cut:
        await wechat(w).fetch_statement(today_china())
    assert cut.value.retryable  # a new download may well be whole
    w.sim.bills.faults.truncate = False
    assert (await wechat(w).fetch_statement(today_china())).raw.count(b"\n") == 4


async def test_daily_job_claimed_once_by_two_hubs_finds_injected_errors_and_alerts(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    first = await start(aiohttp_client, db_url, stack)
    second = await start(aiohttp_client, db_url, stack, merchant=first)
    paid = await sell(first, 4)
    day = today_china()
    # the simulator's bill: one payment missing, one with another amount, one refund
    # nobody asked for
    first.sim.bills.leave_out(paid[0])
    first.sim.bills.misstate(paid[1], PRICE - 100)
    first.sim.bills.unknown_refund(paid[2], 500, datetime.now(CHINA))
    to_tomorrow_ten(first)
    resp = await first.client.post(
        "/api/admin/alerts/rules",
        json={
            "name": "recon",
            "kind": "reconcile_discrepancies",
            "params": {"channel": "wechat"},
            "open_at": 1,
            "clear_below": 1,
        },
        headers=ADMIN,
    )
    assert resp.status in (200, 201), await resp.text()

    jobs = [first.hub.daily, second.hub.daily]
    assert all(j is not None for j in jobs)
    early = bill_ready_at(day) - timedelta(hours=1)  # 09:05: not yet
    assert [await j.run_due(early) for j in jobs if j] == [[], []]
    at = bill_ready_at(day)
    results = await asyncio.gather(*(j.run_due(at) for j in jobs if j))
    ran = [o for r in results for o in r]
    assert len(ran) == 1 and ran[0].outcome == "done" and ran[0].new == 3, results
    assert first.sim.bills.downloads == 1
    rows = await claims.listing(first.hub.engine, "reconcile.wechat")
    assert [(r["day"], r["outcome"]) for r in rows] == [(day, "done")]
    # later rounds of either hub: the day is taken
    assert await jobs[1].run_due(at + timedelta(hours=2)) == []  # type: ignore[union-attr]

    async with first.hub.engine.connect() as conn:
        found = await store.listing(conn, day=day, channel="wechat", state=None, kind=None)
    kinds = sorted((d["kind"], d["ref"].split(":")[0]) for d in found)
    assert kinds == [("amount_mismatch", "pay"), ("hub_only", "pay"), ("partner_only", "refund")]
    assert {d["order_id"] is not None for d in found if d["kind"] != "partner_only"} == {True}
    alerts = await first.client.get("/api/admin/alerts", headers=ADMIN)
    body = await alerts.json()
    assert [a["kind"] for a in body["alerts"] if a["state"] == "open"] == [
        "reconcile_discrepancies"
    ], body


async def test_fetch_route_imports_once_and_says_why_not(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack)
    await sell(w, 2)
    day = today_china()
    url = f"/api/admin/reconcile/fetch?channel=wechat&date={day}"
    not_yet = await w.client.post(url, headers=ADMIN)
    assert not_yet.status == 409 and (await not_yet.json())["code"] == "NO_STATEMENT"
    nobody = await w.client.post(url.replace("wechat", "ctrip"), headers=ADMIN)
    assert nobody.status == 404 and (await nobody.json())["code"] == "UNKNOWN_CHANNEL"
    to_tomorrow_ten(w)
    first = await w.client.post(url, headers=ADMIN)
    assert first.status == 200, await first.text()
    body = await first.json()
    assert (body["lines"], body["discrepancies_found"], body["already_imported"]) == (2, 0, False)
    again = await (await w.client.post(url, headers=ADMIN)).json()
    assert again["already_imported"] and again["statement_id"] == body["statement_id"]
