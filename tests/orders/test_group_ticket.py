"""One credential for a guide's whole group: issued, admitted N times, refunded whole,
its roster still swappable, and bounded by what a credential can carry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain import OrderLine, OrderRequest, SlotInfo, Visitor
from hub.domain.credentials import CredentialVerifier
from hub.domain.rules import EntryContext, RuleEngine, builtin_registry
from tests.support import ADMIN, TOMORROW, hub_client, hub_of, id_number, put_group_tour, seed


def person(seq: int) -> Visitor:
    return Visitor(name=f"团员{seq}", id_number=id_number("19850505", seq))


async def setup(client: Any, quantity: int = 5) -> Any:
    await seed(client, capacity=300)
    await put_group_tour(
        client,
        [
            {"check": "real_name"},
            {"check": "group_size", "min": 2},
            {"check": "per_id_daily_limit", "limit": 1, "scope": "venue"},
        ],
        entry=[{"check": "entries", "per_day": 1}],
    )
    return await hub_of(client).orders.place(
        OrderRequest(
            channel="agency",
            partner_order_id="gt",
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="tour", quantity=quantity),),
            group_ticket=True,
            visitors=tuple(person(i) for i in range(quantity)),
            confirm=True,
        )
    )


async def sold(client: Any) -> int:
    cells = await (
        await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    ).json()
    return int(next(c for c in cells["cells"] if c["slot"] == "09:00-11:00")["sold"])


async def test_one_credential_admits_the_whole_group(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await setup(client)
    assert placed.status == 201, placed.body
    (ticket,) = placed.body["order"]["tickets"]
    assert (ticket["units"], ticket["entries_allowed"], ticket["holder_id_number"]) == (5, 5, None)
    keys = await (await client.get("/api/venues/v1/keys")).json()
    claims = CredentialVerifier({k["key_id"]: k["public_key"] for k in keys["keys"]}).verify(
        ticket["credential"]
    )
    assert claims.entries_allowed == 5
    assert await sold(client) == 5
    # at the gate: "once a day" is per person, so the group's ticket admits five today
    order = await hub_of(client).orders.get(placed.body["order"]["id"])
    assert order is not None
    product = await hub_of(client).catalog.product("tour")
    engine = RuleEngine(builtin_registry())
    at = order.tickets[0].valid_from + timedelta(hours=9)

    def decide(today: int) -> str | None:
        ctx = EntryContext(
            ticket=order.tickets[0],
            product=product,
            now=at,
            tz=ZoneInfo("Asia/Shanghai"),
            slot=SlotInfo.parse("09:00-11:00"),
            gate="g1",
            entries_today=today,
            entries_total=today,
        )
        denial = engine.evaluate_entry(product.rules, ctx).denial  # type: ignore[union-attr]
        return None if denial is None else str(denial.code)

    assert decide(4) is None
    assert decide(5) is not None


async def test_refunded_whole_with_money_stock_and_counters(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await setup(client, quantity=4)
    orders = hub_of(client).orders
    out = await orders.refund(placed.body["order"]["id"])
    assert out.ok and out.body["refunded_amount"] == 4 * 6000
    assert await sold(client) == 0
    again = await orders.place(
        OrderRequest(
            channel="boxoffice",
            partner_order_id="b",
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="realname", quantity=1),),
            visitors=(person(3),),
            confirm=True,
        )
    )
    assert again.status == 201  # the group's per-ID counters were released


async def test_roster_swap_keeps_the_group_ticket(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await setup(client, quantity=3)
    orders = hub_of(client).orders
    oid = placed.body["order"]["id"]
    out = await orders.replace_visitors(oid, {0: person(50)})
    assert out.ok, out.body
    assert out.body["revoked_tickets"] == [] and out.body["replaced"] == {}
    order = await orders.get(oid)
    assert order is not None and order.visitors[0].id_number == person(50).id_number
    assert [t.state.value for t in order.tickets] == ["valid"]


async def test_a_credential_carries_at_most_255_entries(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client, capacity=300)
    out = await hub_of(client).orders.place(
        OrderRequest(
            channel="agency",
            partner_order_id="big",
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="adult", quantity=256),),
            group_ticket=True,
            confirm=True,
        )
    )
    assert out.code == "QUANTITY_TOO_LARGE"
    assert await sold(client) == 0
