"""B2B accounts charged in the same transaction as the stock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from hub.clock import FixedClock
from hub.domain import OrderLine, OrderRequest
from hub.orders import Outcome
from tests.support import ADMIN, T0, TOMORROW, hub_client, hub_of, put, seed


async def book(client: Any, key: str, account: str, quantity: int = 1, **kw: Any) -> Outcome:
    return await hub_of(client).orders.place(
        OrderRequest(
            channel="agency",
            partner_order_id=key,
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="adult", quantity=quantity),),
            account=account,
            **kw,
        )
    )


async def sold(client: Any) -> int:
    resp = await client.get(f"/api/admin/audit?pool=main&date={TOMORROW}", headers=ADMIN)
    slot = next(s for s in (await resp.json())["slots"] if s["slot"] == "09:00-11:00")
    assert slot["oversold"] == 0
    return int(slot["allocated"])


async def test_charge_is_atomic_with_the_stock(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    accounts = hub_of(client).orders.accounts
    await accounts.open("pre", owner="agency", kind="prepaid")
    await accounts.top_up("pre", 25000, key="t1")
    assert (await book(client, "a", "pre", 2, confirm=True)).status == 201  # 2 x 100.00
    refused = await book(client, "b", "pre", 1, confirm=True)  # 50.00 left < 100.00
    assert (refused.status, refused.code) == (422, "INSUFFICIENT_FUNDS")
    assert refused.body["details"] == {"needed": 10000, "available": 5000}
    assert await sold(client) == 2  # the refused booking took no stock
    acct = await accounts.get("pre")
    assert acct is not None and acct.balance == 5000
    entries = await accounts.entries("pre")
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("top_up", 25000, 25000),
        ("charge", -20000, 5000),
    ]
    # the top-up is idempotent on its key
    await accounts.top_up("pre", 25000, key="t1")
    assert (await accounts.get("pre")).balance == 5000  # type: ignore[union-attr]


async def test_credit_line_suspension_and_negotiated_price(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    await put(
        client,
        "/api/admin/products/adult",
        {
            "venue_id": "v1",
            "name": "Adult",
            "pool": "main",
            "prices": [{"amount": 10000}, {"amount": 8000, "account": "cr"}],
        },
    )
    accounts = hub_of(client).orders.accounts
    await accounts.open("cr", owner="agency", kind="credit", credit_limit=16000)
    ok = await book(client, "a", "cr", 2, confirm=True)
    assert ok.status == 201 and ok.body["order"]["amount"] == 16000  # negotiated 80.00
    over = await book(client, "b", "cr", 1, confirm=True)
    assert over.code == "INSUFFICIENT_FUNDS"
    assert (await accounts.get("cr")).balance == -16000  # type: ignore[union-attr]
    await accounts.top_up("cr", 8000, key="repay-1")
    await accounts.set_status("cr", "suspended")
    assert (await book(client, "c", "cr", 1, confirm=True)).code == "ACCOUNT_SUSPENDED"
    assert (await book(client, "d", "nobody", 1, confirm=True)).code == "UNKNOWN_ACCOUNT"
    assert await sold(client) == 2


async def test_refunds_and_cancellations_pay_back_once(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    orders = hub_of(client).orders
    await orders.accounts.open("pre", owner="agency", kind="prepaid")
    await orders.accounts.top_up("pre", 50000, key="t")
    placed = await book(client, "g", "pre", 3, confirm=True)
    order = placed.body["order"]
    one = order["tickets"][0]["id"]
    assert (await orders.refund(order["id"], [one])).ok
    assert (await orders.accounts.get("pre")).balance == 30000  # type: ignore[union-attr]
    again = await orders.refund(order["id"], [one])
    assert again.code == "INVALID_STATE"
    assert (await orders.refund(order["id"])).ok  # the other two
    assert (await orders.accounts.get("pre")).balance == 50000  # type: ignore[union-attr]
    kinds = [e.kind for e in await orders.accounts.entries("pre")]
    assert kinds == ["top_up", "charge", "refund", "refund"]
    held = await book(client, "h", "pre", 2)  # a hold is charged too (money first)
    assert (await orders.accounts.get("pre")).balance == 30000  # type: ignore[union-attr]
    assert (await orders.cancel(held.body["order"]["id"])).ok
    assert (await orders.accounts.get("pre")).balance == 50000  # type: ignore[union-attr]


async def test_pending_approval_hold_expires_and_pays_back(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock)
    await seed(client, capacity=10)
    orders = hub_of(client).orders
    await orders.accounts.open("pre", owner="agency", kind="prepaid")
    await orders.accounts.top_up("pre", 50000, key="t")
    held = await book(client, "p", "pre", 2, hold_until=T0 + timedelta(hours=20))
    assert held.body["order"]["hold_expires_at"].startswith("2026-11-22T22:00")
    clock.advance(hours=19)
    assert await orders.lifecycle.expire_due(clock.now()) == 0  # default TTL does not apply
    clock.advance(hours=2)
    assert await orders.lifecycle.expire_due(clock.now()) == 1
    assert (await orders.accounts.get("pre")).balance == 50000  # type: ignore[union-attr]
    assert await sold(client) == 0
    past = await book(client, "q", "pre", 1, hold_until=T0)
    assert past.code == "INVALID_REQUEST"


async def test_agencies_racing_for_last_places_and_last_credit(
    aiohttp_client: Any, db_url: str
) -> None:
    """Three agencies each able to pay for 5 places race for a slot of 10: neither the
    slot nor any account is overdrawn, and money and stock agree order by order."""
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    accounts = hub_of(client).orders.accounts
    names = ["a1", "a2", "a3"]
    for name in names:
        await accounts.open(name, owner="agency", kind="credit", credit_limit=50000)
    results = await asyncio.gather(
        *(book(client, f"{name}-{i}", name, 1, confirm=True) for i in range(8) for name in names)
    )
    accepted = [r for r in results if r.ok]
    assert {r.code for r in results if not r.ok} <= {"SOLD_OUT", "INSUFFICIENT_FUNDS"}
    assert len(accepted) == await sold(client) == 10
    for name in names:
        acct = await accounts.get(name)
        assert acct is not None and acct.balance >= -acct.credit_limit
        mine = [r for r in accepted if r.body["order"]["partner_order_id"].startswith(name)]
        assert acct.balance == -10000 * len(mine)
        entries = await accounts.entries(name)
        assert sum(e.amount for e in entries) == acct.balance
