"""The operations team's order pages over HTTP: search by each key (the ID number by its
keyed hash, shown masked), the order's timeline, refund and cancel with a reason (role,
CSRF, audit line in the same transaction, the partner's calls queued as usual)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.api.app import create_app
from hub.clock import FixedClock
from hub.console.audit import AUDIT
from hub.console.staff import StaffService
from hub.outbox.store import T as OUTBOX
from hub.plugins import build_plugins
from hub.sdk import Order, PartnerCall, Ticket, hookimpl
from tests.console.kit import console_client, seed_staff, signed_in
from tests.console.ops_kit import ID_NUMBER, NASTY, PHONE, conflict, seeded, sold_order
from tests.support import T0, hub_of, id_number, settings


async def _audit(client: Any, action: str) -> list[Any]:
    async with hub_of(client).engine.connect() as conn:
        rows = await conn.execute(select(AUDIT).where(AUDIT.c.action == action))
        return list(rows.all())


async def _calls(client: Any) -> list[Any]:
    async with hub_of(client).engine.connect() as conn:
        return list((await conn.execute(select(OUTBOX.c.id, OUTBOX.c.kind))).all())


async def test_search_finds_an_order_by_each_key_and_masks_people(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await console_client(aiohttp_client, db_url)
    await seeded(client)
    o = await sold_order(client, "partner-77")
    await sold_order(client, "other", phone="13800000000", id_no=id_number(seq=999))
    token = await signed_in(client, "watch")  # reading is open to every role
    for query, how in (
        (o["id"], "订单号"),
        ("partner-77", "合作方订单号"),
        (PHONE, "手机号"),
        ("139-1234-5678", "手机号"),
        (ID_NUMBER, "证件号"),
        (ID_NUMBER.lower(), "证件号"),
    ):
        resp = await client.post("/console/orders", data={"q": query, "csrf_token": token})
        assert resp.status == 200
        html = (await resp.text()).partition('id="orders"')[2]  # the results
        assert html.count('class="order-link"') == 1, query
        assert o["id"] in html and how in html, query
        assert ID_NUMBER not in html and PHONE not in html  # masked: 1101**********...
        assert ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:] in html
        assert "139****5678" in html
    # the contact's phone (kept in the order's JSON) is found too, and masked
    c = await sold_order(
        client,
        "with-contact",
        phone="",
        id_no=id_number(seq=321),
        contact={"name": "李四", "phone": "13700001111"},
    )
    resp = await client.post("/console/orders", data={"q": "13700001111", "csrf_token": token})
    html = (await resp.text()).partition('id="orders"')[2]
    assert html.count('class="order-link"') == 1 and c["id"] in html
    assert "13700001111" not in html and "137****1111" in html
    resp = await client.post("/console/orders", data={"q": "nothing-like", "csrf_token": token})
    assert 'id="no-orders"' in await resp.text()


async def test_order_page_shows_its_timeline_escaped(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    await seeded(client)
    o = await sold_order(client, NASTY, name=NASTY)
    ticket = o["tickets"][0]["id"]
    await conflict(hub_of(client), "in-1", ticket, gate="north-3", code="")
    await conflict(hub_of(client), "in-2", ticket, gate="south-1")
    await signed_in(client, "watch")
    resp = await client.get(f"/console/orders/{o['id']}")
    assert resp.status == 200
    html = await resp.text()
    assert NASTY not in html  # the visitor's name and the partner's key, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ID_NUMBER not in html and PHONE not in html
    assert 'class="event-created"' in html and 'class="event-message"' in html
    assert ticket in html
    redemptions = html.split('class="event-redemption"')[1:]
    assert len(redemptions) == 2
    assert "north-3" in redemptions[0] and "放行" in redemptions[0]
    assert "south-1" in redemptions[1] and "两个离线网关" in redemptions[1]
    assert 'id="refund-form"' not in html  # a viewer gets no refund form
    assert (await client.get("/console/orders/no-such-order")).status == 404


async def test_operator_refunds_with_a_reason_and_the_audit_line(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await console_client(aiohttp_client, db_url)
    await seeded(client)
    o = await sold_order(client)
    token = await signed_in(client, "oper")
    url = f"/console/orders/{o['id']}/refund"
    resp = await client.post(url, data={"csrf_token": token, "reason": "  "})
    assert resp.status == 422 and "请填写原因" in await resp.text()
    resp = await client.post(
        url, data={"csrf_token": token, "reason": "游客生病"}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"].endswith("?done=refund")
    assert (await hub_of(client).orders.get(o["id"])).state.value == "refunded"  # type: ignore[union-attr]
    [line] = await _audit(client, "order.refund")
    assert (line.actor, line.target) == ("oper", f"order:{o['id']}")
    assert line.before == {"state": "confirmed"}
    assert line.after["state"] == "refunded" and line.after["reason"] == "游客生病"
    assert line.after["refunded_tickets"] == [o["tickets"][0]["id"]]
    page = await (await client.get(f"/console/orders/{o['id']}")).text()
    assert "已退款" in page and "order.refund" in page and "游客生病" in page
    # a second refund is refused in words, and writes no second line
    resp = await client.post(url, data={"csrf_token": token, "reason": "again"})
    assert resp.status == 409
    assert len(await _audit(client, "order.refund")) == 1


async def test_cancel_moves_through_the_order_service(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    await seeded(client)
    o = await sold_order(client)
    token = await signed_in(client, "super")
    resp = await client.post(
        f"/console/orders/{o['id']}/cancel",
        data={"csrf_token": token, "reason": "duplicate sale"},
        allow_redirects=False,
    )
    assert resp.status == 303
    order = await hub_of(client).orders.get(o["id"])
    assert order is not None and order.state.value == "cancelled"
    assert all(t.state.value == "revoked" for t in order.tickets)
    [line] = await _audit(client, "order.cancel")
    assert line.after["state"] == "cancelled"


async def test_viewer_refund_and_tokenless_refund_change_nothing(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await console_client(aiohttp_client, db_url)
    await seeded(client)
    o = await sold_order(client)
    calls_before = await _calls(client)
    token = await signed_in(client, "watch")
    url = f"/console/orders/{o['id']}/refund"
    resp = await client.post(url, data={"csrf_token": token, "reason": "x"})
    assert resp.status == 403
    await signed_in(client, "oper")
    resp = await client.post(url, data={"reason": "x"})  # no CSRF token
    assert resp.status == 403
    assert (await hub_of(client).orders.get(o["id"])).state.value == "confirmed"  # type: ignore[union-attr]
    assert await _audit(client, "order.refund") == []
    assert await _calls(client) == calls_before


class TellsPartner:
    """A channel's event hook: a refund queues the partner's callback (as ctrip's does)."""

    @hookimpl
    def order_refunded(self, order: Order, tickets: list[Ticket]) -> list[PartnerCall]:
        return [
            PartnerCall(
                "partner-x",
                "refunded",
                f"refunded:{order.id}",
                {"tickets": [t.id for t in tickets]},
                order.id,
            )
        ]


async def test_a_console_refund_tells_the_partner_like_any_refund(
    aiohttp_client: Any, db_url: str
) -> None:
    plugins = build_plugins()
    plugins.add_event_listener(TellsPartner(), "test.tells_partner")
    app = create_app(settings(db_url), plugins=plugins, clock=FixedClock(T0))
    client = await aiohttp_client(app)
    await seed_staff(StaffService(hub_of(client).engine, hub_of(client).clock))
    await seeded(client)
    o = await sold_order(client)
    token = await signed_in(client, "oper")
    resp = await client.post(
        f"/console/orders/{o['id']}/refund", data={"csrf_token": token, "reason": "ill"}
    )
    assert resp.status == 200
    async with hub_of(client).engine.connect() as conn:
        calls = (
            await conn.execute(
                select(OUTBOX.c.partner, OUTBOX.c.kind, OUTBOX.c.payload).where(
                    OUTBOX.c.order_id == o["id"]
                )
            )
        ).all()
    assert [(c.partner, c.kind, c.payload) for c in calls] == [
        ("partner-x", "refunded", {"tickets": [o["tickets"][0]["id"]]})
    ]
    page = await resp.text()  # the order page after the redirect lists the call
    assert 'class="event-call"' in page and "partner-x" in page
