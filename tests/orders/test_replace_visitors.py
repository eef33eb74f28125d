"""Replacing visitors of a confirmed group in place: one transaction, same stock and money."""

from __future__ import annotations

from typing import Any

from hub.domain import OrderLine, OrderRequest, Visitor
from hub.domain.credentials import CredentialVerifier
from tests.support import ADMIN, TOMORROW, hub_client, hub_of, id_number, put_group_tour, seed


def person(seq: int, birth: str = "19800101") -> Visitor:
    return Visitor(name=f"游客{seq}", id_number=id_number(birth, seq))


async def buy_realname(orders: Any, key: str, visitor: Visitor, slot: str) -> Any:
    """The same person buying a real-name ticket at the box office that day."""
    return await orders.place(
        OrderRequest(
            channel="boxoffice",
            partner_order_id=key,
            travel_date=TOMORROW,
            slot=slot,
            lines=(OrderLine(product_id="realname", quantity=1),),
            visitors=(visitor,),
            confirm=True,
        )
    )


async def group_setup(client: Any) -> Any:
    await seed(client, capacity=20)
    await put_group_tour(
        client,
        [
            {"check": "real_name"},
            {"check": "group_size", "min": 3},
            {"check": "per_id_daily_limit", "limit": 1, "scope": "venue"},
            {"check": "age", "max": 70},
        ],
    )
    orders = hub_of(client).orders
    await orders.accounts.open("ag", owner="agency", kind="prepaid")
    await orders.accounts.top_up("ag", 100000, key="t")
    return await orders.place(
        OrderRequest(
            channel="agency",
            partner_order_id="g1",
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="tour", quantity=3),),
            account="ag",
            confirm=True,
            visitors=(person(1), person(2), person(3)),
        )
    )


async def test_a_visitor_is_replaced_in_place(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await group_setup(client)
    assert placed.status == 201
    orders = hub_of(client).orders
    oid = placed.body["order"]["id"]
    old = next(t for t in placed.body["order"]["tickets"] if t["visitor_index"] == 1)
    out = await orders.replace_visitors(oid, {1: person(9)})
    assert out.status == 200, out.body
    assert out.body["revoked_tickets"] == [old["id"]]
    new_id = out.body["replaced"]["1"]
    order = await orders.get(oid)
    assert order is not None and order.visitors[1].id_number == person(9).id_number
    new = next(t for t in order.tickets if t.id == new_id)
    assert new.holder_id_number == person(9).id_number and new.state.value == "valid"
    keys = await (await client.get("/api/venues/v1/keys")).json()
    verifier = CredentialVerifier({k["key_id"]: k["public_key"] for k in keys["keys"]})
    assert verifier.verify(new.credential).ticket_id == new_id
    # stock and money unchanged; the leaver may buy again, the newcomer may not
    cells = await (
        await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    ).json()
    assert next(c for c in cells["cells"] if c["slot"] == "09:00-11:00")["sold"] == 3
    assert (await orders.accounts.get("ag")).balance == 100000 - 18000  # type: ignore[union-attr]
    again = await buy_realname(orders, "x", person(2), "09:00-11:00")
    assert again.status == 201  # person 2 was freed by the swap
    blocked = await buy_realname(orders, "y", person(9), "09:00-11:00")
    assert blocked.code == "ID_DAILY_LIMIT"


async def test_a_bad_newcomer_changes_nothing(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await group_setup(client)
    orders = hub_of(client).orders
    oid = placed.body["order"]["id"]
    before = await orders.get(oid)
    bad = Visitor(
        name="错号",
        id_number=id_number()[:-1] + "0" if id_number()[-1] != "0" else id_number()[:-1] + "1",
    )
    for change, code in (
        ({0: bad}, "INVALID_ID_NUMBER"),
        ({0: person(2)}, "DUPLICATE_VISITOR"),  # already in the group
        ({0: person(7, "19400101")}, "AGE_NOT_ELIGIBLE"),
        ({5: person(8)}, "INVALID_REQUEST"),
    ):
        out = await orders.replace_visitors(oid, change)
        assert out.code == code, (change, out.body)
    # someone already holding a ticket that day elsewhere cannot be swapped in
    await buy_realname(orders, "z", person(5), "13:00-15:00")
    assert (await orders.replace_visitors(oid, {0: person(5)})).code == "ID_DAILY_LIMIT"
    after = await orders.get(oid)
    assert after == before
    # the refused swap released person 1's counter before failing: rolled back with it
    still = await buy_realname(orders, "w", person(1), "13:00-15:00")
    assert still.code == "ID_DAILY_LIMIT"


async def test_replacement_is_idempotent_on_its_key(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    placed = await group_setup(client)
    orders = hub_of(client).orders
    oid = placed.body["order"]["id"]
    first = await orders.replace_visitors(oid, {2: person(11)}, key="agency\x1freplace\x1fa-1")
    second = await orders.replace_visitors(oid, {2: person(11)}, key="agency\x1freplace\x1fa-1")
    assert second.replay and second.body == first.body
    order = await orders.get(oid)
    assert order is not None and sum(t.state.value == "valid" for t in order.tickets) == 3
