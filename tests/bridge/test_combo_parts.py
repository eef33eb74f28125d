"""Combos checked per part: one credential, one entry per attraction (`hub.domain.combo`).

The seed's combo is ``adult`` (the main gate) + ``cable`` (the cable car). Gate ``north``
belongs to no attraction (the venue's own gate: the combo's first part), gate ``cable-1``
to the cable car. Online and offline (the hub behind a link the test cuts), on SQLite and
PostgreSQL: the main gate and the cable car admit once each, a second cable-car entry is
refused naming the part, and the hub counts every entry once after the sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hardware_bridge.runtime import Bridge
from hub.clock import FixedClock
from hub.domain.gate import GateDecision, Medium, Scan
from hub.storage.flow_tables import FlowGateRow
from hub.storage.tables import RedemptionRow, TicketRow
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import AT, TOKEN, LoopDriver, bridge_settings
from tests.support import ADMIN, hub_client, hub_of, order, put, seed

TIX = TicketRow.__table__
RED = RedemptionRow.__table__
GATE = FlowGateRow.__table__


@dataclass
class Site:
    hub: TestClient
    proxy: LinkProxy
    bridge: Bridge

    async def decide(self, qr: str, gate: str) -> GateDecision:
        device = "gate-1" if gate == "north" else "gate-2"
        return await self.bridge.host.decide(
            Scan(device_id=device, gate=gate, medium=Medium.QR, value=qr)
        )

    async def sell(self, key: str, product: str = "combo") -> dict[str, Any]:
        status, body = await order(self.hub, key, product=product, confirm=True)
        assert status == 201, body
        ticket: dict[str, Any] = body["order"]["tickets"][0]
        return ticket

    async def ticket_row(self, ticket_id: str) -> Any:
        async with hub_of(self.hub).engine.connect() as conn:
            return (await conn.execute(select(TIX).where(TIX.c.id == ticket_id))).one()

    async def redemptions(self, ticket_id: str) -> list[Any]:
        async with hub_of(self.hub).engine.connect() as conn:
            rows = await conn.execute(
                select(RED).where(RED.c.ticket_id == ticket_id).order_by(RED.c.at, RED.c.id)
            )
            return list(rows.all())

    async def gate_entries(self) -> dict[str, int]:
        async with hub_of(self.hub).engine.connect() as conn:
            rows = await conn.execute(
                select(GATE.c.gate, func.sum(GATE.c.entries)).group_by(GATE.c.gate)
            )
            return {str(g): int(n) for g, n in rows.all()}


@pytest.fixture
async def site(aiohttp_client: Any, db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    await put(hub, "/api/admin/venues/v1/gates", {"gates": {"cable-1": "cable"}})
    proxy = LinkProxy(int(hub.port or 0))
    await proxy.start()
    async with aiohttp.ClientSession() as http:
        b = Bridge(
            bridge_settings(proxy.url, tmp_path / "bridge.db"),
            http,
            clock=FixedClock(AT),
            drivers={"loop": LoopDriver({"10.0.0.5": "LOOP-0005", "10.0.0.6": "LOOP-0006"})},
        )
        await b.start_drivers()
        await b.start(sync=False)  # synced by hand
        await b.link.pull_config()
        await b.link.sync_once()
        await b.host.add_device("loop", device_id="gate-1", address="10.0.0.5", gate="north")
        await b.host.add_device("loop", device_id="gate-2", address="10.0.0.6", gate="cable-1")
        try:
            yield Site(hub, proxy, b)
        finally:
            await b.stop()
            b.close()
            await proxy.close()


async def _go_offline(site: Site) -> None:
    site.proxy.set_mode("down")
    with pytest.raises(Exception):  # noqa: B017  (the link's own HubUnavailable)
        await site.bridge.link.sync_once()
    assert not site.bridge.link.state.online


async def test_gate_map_is_set_through_the_admin_api_and_reaches_the_bridge(
    site: Site,
) -> None:
    resp = await site.hub.get("/api/admin/venues/v1/gates", headers=ADMIN)
    assert (await resp.json()) == {"gates": {"cable-1": "cable"}}
    assert site.bridge.decider.view is not None
    assert dict(site.bridge.decider.view.gates) == {"cable-1": "cable"}
    bad = await site.hub.put(
        "/api/admin/venues/v1/gates", json={"gates": {"cable-1": "no spaces"}}, headers=ADMIN
    )
    assert bad.status == 422
    unknown = await site.hub.put("/api/admin/venues/nope/gates", json={"gates": {}}, headers=ADMIN)
    assert unknown.status == 404


async def test_combo_online_each_part_once_then_counted_once(site: Site) -> None:
    sold = await site.sell("c1")
    await site.bridge.link.sync_once()
    qr = sold["credential"]

    main = await site.decide(qr, "north")
    cable = await site.decide(qr, "cable-1")
    again = await site.decide(qr, "cable-1")
    main_again = await site.decide(qr, "north")
    assert (main.allow, cable.allow) == (True, True)
    assert (again.allow, again.code, again.reason) == (
        False,
        "ENTRIES_EXHAUSTED",
        "cable: already used",
    )
    assert (main_again.allow, main_again.reason) == (False, "adult: already used")

    await site.bridge.link.sync_once()
    await site.bridge.link.sync_once()  # a second round uploads nothing twice
    row = await site.ticket_row(sold["id"])
    assert (row.entries_used, row.state) == (2, "used")
    assert {k: v["used"] for k, v in row.parts.items()} == {"adult": 1, "cable": 1}
    counted = [(r.gate, r.part) for r in await site.redemptions(sold["id"]) if r.counted]
    assert sorted(counted) == [("cable-1", "cable"), ("north", "adult")]
    assert await site.gate_entries() == {"cable-1": 1, "north": 1}


async def test_combo_offline_each_part_once_then_synced_without_double_count(
    site: Site,
) -> None:
    cached = await site.sell("c-before")
    await site.bridge.link.sync_once()
    await _go_offline(site)
    during = await site.sell("c-during")  # never synced: opens from its signed QR
    assert site.bridge.store.ticket(during["id"]) is None

    for t in (cached, during):
        qr = t["credential"]
        results = [
            await site.decide(qr, "north"),
            await site.decide(qr, "cable-1"),
            await site.decide(qr, "cable-1"),
        ]
        assert [(d.allow, d.offline) for d in results] == [(True, True)] * 2 + [(False, True)]
        assert results[2].reason == "cable: already used"

    site.proxy.set_mode("up")
    await site.bridge.link.sync_once()
    await site.bridge.link.sync_once()
    for t in (cached, during):
        row = await site.ticket_row(t["id"])
        assert (row.entries_used, row.state) == (2, "used")
        assert {k: v["used"] for k, v in row.parts.items()} == {"adult": 1, "cable": 1}
        reds = await site.redemptions(t["id"])
        assert sorted((r.part, r.counted, r.offline) for r in reds) == [
            ("", False, True),  # the refused second cable-car entry: recorded, not counted
            ("adult", True, True),
            ("cable", True, True),
        ]
    assert await site.gate_entries() == {"cable-1": 2, "north": 2}
    # after the sync the bridge still refuses both parts (the hub's counts came back)
    assert not (await site.decide(during["credential"], "cable-1")).allow
    assert not (await site.decide(during["credential"], "north")).allow


async def test_a_combo_has_no_entry_at_an_attraction_it_does_not_include(site: Site) -> None:
    await put(
        site.hub, "/api/admin/venues/v1/gates", {"gates": {"cable-1": "cable", "show": "show"}}
    )
    await site.bridge.link.pull_config()
    sold = await site.sell("c1")
    await site.bridge.link.sync_once()
    d = await site.bridge.host.decide(
        Scan(device_id="gate-1", gate="show", medium=Medium.QR, value=sold["credential"])
    )
    assert (d.allow, d.code) == (False, "NOT_AT_THIS_GATE")


async def test_a_plain_ticket_is_unaffected_by_the_gate_map(site: Site) -> None:
    sold = await site.sell("p1", product="adult")
    await site.bridge.link.sync_once()
    first = await site.decide(sold["credential"], "cable-1")
    second = await site.decide(sold["credential"], "north")
    assert (first.allow, second.allow, second.code) == (True, False, "ENTRIES_EXHAUSTED")
    await site.bridge.link.sync_once()
    row = await site.ticket_row(sold["id"])
    assert (row.entries_used, row.state, row.parts) == (1, "used", None)
    assert [r.part for r in await site.redemptions(sold["id"]) if r.counted] == [""]


async def test_a_refunded_part_is_refused_at_its_gate_after_the_sync(site: Site) -> None:
    await put(
        site.hub,
        "/api/admin/products/combo",
        {
            "venue_id": "v1",
            "name": "Entry + cable car",
            "kind": "combo",
            "components": [{"product_id": "adult"}, {"product_id": "cable"}],
            "prices": [{"amount": 14000}],
            "parts_refundable": True,
        },
    )
    sold = await site.sell("c1")
    await site.bridge.link.sync_once()
    assert (await site.decide(sold["credential"], "north")).allow
    await site.bridge.link.sync_once()  # the main gate's entry reaches the hub
    row = await site.ticket_row(sold["id"])
    resp = await site.hub.post(
        f"/api/admin/orders/{row.order_id}/tickets/{sold['id']}/refund-parts",
        json={"parts": ["cable"]},
        headers=ADMIN,
    )
    assert resp.status == 200, await resp.text()
    await site.bridge.link.sync_once()
    d = await site.decide(sold["credential"], "cable-1")
    assert (d.allow, d.code, d.reason) == (False, "PART_REFUNDED", "cable: refunded")
