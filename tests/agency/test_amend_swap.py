"""Replacing visitors of a group: in place, on group products, in a sold-out slot, and a
retried amendment books nobody twice."""

from __future__ import annotations

from typing import Any

from hub.domain.masking import mask_id
from tests.agency.kit import account, call, group, make_agency, visitors
from tests.support import ADMIN, TOMORROW, hub_client, put, seed

AMEND = "/api/agency/groups/G/amendments"


async def test_replacement_on_a_sold_out_group_product(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=4)
    await put(
        client,
        "/api/admin/products/tour",
        {
            "venue_id": "v1",
            "name": "Group tour",
            "kind": "group",
            "pool": "main",
            "prices": [{"amount": 10000}],
            "rules": {"sale": [{"check": "real_name"}, {"check": "group_size", "min": 4}]},
        },
    )
    creds = await make_agency(client, "sw", top_up=100000)
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups",
        group("G", 4, product_id="tour", visitors=visitors(4)),
    )
    assert status == 201, body  # the slot (4 places) is now sold out
    first = body["group"]["members"][0]
    newcomer = visitors(1, start=700)
    request = {"amendment_no": "1", "remove": [first["ticket_id"]], "add": newcomer}
    status, body = await call(client, creds, "POST", AMEND, request)
    assert status == 200, body
    members = body["group"]["members"]
    assert len(members) == 4 and first["ticket_id"] not in {m["ticket_id"] for m in members}
    ids = {m["visitor"]["id_number"] for m in members}
    assert mask_id(newcomer[0]["id_number"]) in ids
    # the retried amendment answers the same group and books nobody twice
    status, again = await call(client, creds, "POST", AMEND, request)
    assert status == 200 and again["group"]["members"] == members
    cells = await (
        await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    ).json()
    assert next(c for c in cells["cells"] if c["slot"] == "09:00-11:00")["sold"] == 4
    assert (await account(client, "sw"))["balance"] == 100000 - 40000  # money unchanged


async def test_group_ticket_mode_end_to_end(aiohttp_client: Any, db_url: str) -> None:
    """An agency on group tickets: the guide gets ONE credential admitting the group; a
    visitor is replaced on the roster; a refund by visitor is refused, the whole is not."""
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10, rules={"sale": [{"check": "real_name"}]})
    creds = await make_agency(client, "gt", top_up=100000, ticket_mode="group")
    status, body = await call(
        client, creds, "POST", "/api/agency/groups", group("G", 4, visitors=visitors(4))
    )
    assert status == 201, body
    g = body["group"]
    assert g["ticket_mode"] == "group"
    tickets = {m["ticket_id"] for m in g["members"]}
    assert len(tickets) == 1 and len(g["members"]) == 4
    assert {m["entries_allowed"] for m in g["members"]} == {4}
    (ticket,) = tickets
    member = g["members"][2]
    assert member["member_id"] == f"{ticket}#2"
    newcomer = visitors(1, start=800)
    status, body = await call(
        client,
        creds,
        "POST",
        AMEND,
        {"amendment_no": "1", "remove": [member["member_id"]], "add": newcomer},
    )
    assert status == 200, body
    ids = [m["visitor"]["id_number"] for m in body["group"]["members"]]
    assert ids[2] == mask_id(newcomer[0]["id_number"])
    assert {m["ticket_id"] for m in body["group"]["members"]} == {ticket}  # same credential
    status, body = await call(
        client, creds, "POST", AMEND, {"amendment_no": "2", "remove": [member["member_id"]]}
    )
    assert (status, body["code"]) == (409, "GROUP_TICKET")
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups/G/refund",
        {"refund_no": "R1", "ticket_ids": [member["member_id"]]},
    )
    assert (status, body["code"]) == (409, "GROUP_TICKET")
    assert (await account(client, "gt"))["balance"] == 100000 - 40000  # nothing refunded
    status, body = await call(
        client, creds, "POST", "/api/agency/groups/G/refund", {"refund_no": "R2"}
    )
    assert status == 200, body
    assert body["refunded_amount"] == 4 * 10000
    assert (await account(client, "gt"))["balance"] == 100000
