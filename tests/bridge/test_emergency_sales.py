"""The emergency box office at the bridge, against a real hub (SQLite and PostgreSQL)
behind a link the test cuts: sell offline from the allotment, admit at this bridge and
another, reconnect, every order at the hub exactly once; and the bad input: revoked and
uncertified keys, an exhausted allotment, an ended slot, a replay after a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hardware_bridge.boxoffice.sales import SaleRefused
from hub.domain.credentials import CredentialClaims, CredentialSigner, generate_keypair
from hub.storage.stock_tables import StockDirtyRow
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import TOKEN
from tests.bridge.emergency_kit import (
    DAY,
    SLOT,
    allot,
    bridge_clock,
    cells,
    certify,
    cut,
    emergency_counts,
    running_bridge,
    scan,
    sell,
)
from tests.support import ADMIN, hub_client, hub_of, seed


@pytest.fixture
async def hub(aiohttp_client: Any, db_url: str) -> TestClient:
    client = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(client)
    return client


@pytest.fixture
async def proxy(hub: TestClient) -> AsyncIterator[LinkProxy]:
    link = LinkProxy(hub.server.port)
    await link.start()
    try:
        yield link
    finally:
        await link.close()


async def _dirty(hub: TestClient) -> int:
    async with hub_of(hub).engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(StockDirtyRow)
                    .where(StockDirtyRow.pool == "main", StockDirtyRow.slot == SLOT)
                )
            ).scalar_one()
        )


async def test_sell_offline_admit_at_two_bridges_reconnect_exactly_once(
    hub: TestClient, proxy: LinkProxy, tmp_path: Path
) -> None:
    async with (
        running_bridge(proxy.url, tmp_path / "b1.db", "b1", bridge_clock()) as b1,
        running_bridge(proxy.url, tmp_path / "b2.db", "b2", bridge_clock()) as b2,
    ):
        await certify(hub, b1)
        resp = await allot(hub, "b1", 3)
        assert resp.status == 200, await resp.json()
        before = await cells(hub)
        assert before["emergency:b1"]["capacity"] == 3
        assert before[""]["capacity"] == 7  # taken from the common stock in advance
        for b in (b1, b2):
            await b.link.sync_once()  # the certificate and the allotment come down
        assert b1.status()["emergency"]["allotments"][0]["left"] == 3

        await cut(proxy, b1, b2)
        two = sell(b1, 2)
        one = sell(b1, 1, payment="external", payment_ref="WX-4200-77")
        with pytest.raises(SaleRefused) as refused:
            sell(b1, 1)
        assert refused.value.code == "ALLOTMENT_EXHAUSTED"
        assert "0" in refused.value.reason

        # admitted offline at the selling bridge and at another one
        first = await scan(b1, two.tickets[0]["credential"])
        assert first.allow and first.offline, first
        second = await scan(b2, two.tickets[1]["credential"])
        assert second.allow, second
        third = await scan(b2, one.tickets[0]["credential"])
        assert third.allow, third
        again = await scan(b1, two.tickets[0]["credential"])
        assert not again.allow  # one entry: refused the second time

        dirty_before = await _dirty(hub)
        proxy.set_mode("up")
        await b1.link.sync_once()
        await b2.link.sync_once()
        assert b1.link.state.online
        assert await emergency_counts(hub) == (2, 3)
        after = await cells(hub)
        assert after["emergency:b1"]["sold"] == 3
        assert after[""]["sold"] == 0
        assert await _dirty(hub) > dirty_before  # the OTAs' stock follows
        assert b1.boxoffice.counts() == {"synced": 2}

        # the day report shows the channel
        resp = await hub.get(
            "/api/admin/reports/daily",
            params={"date": DAY.isoformat(), "venue": "v1"},
            headers=ADMIN,
        )
        report = await resp.json()
        emergency = report["by_channel"]["emergency"]
        assert emergency["orders"] == 2 and emergency["tickets_sold"] == 3, emergency
        assert emergency["gross"] == "300.00" and emergency["used"] == 3, emergency

        # the entries of the emergency tickets counted at the hub
        resp = await hub.get(
            "/api/admin/flow", params={"venue": "v1", "date": DAY.isoformat()}, headers=ADMIN
        )
        assert (await resp.json())["entries"] == 3


async def test_replay_after_a_crash_creates_nothing_twice(
    hub: TestClient, proxy: LinkProxy, tmp_path: Path
) -> None:
    db = tmp_path / "b1.db"
    async with running_bridge(proxy.url, db, "b1", bridge_clock()) as b1:
        await certify(hub, b1)
        await allot(hub, "b1", 5)
        await b1.link.sync_once()
        await cut(proxy, b1)
        sold = [sell(b1, 1).order_id for _ in range(3)]
        # the hub records the orders but the answer is lost (cut after the commit)
        proxy.set_mode("swallow")
        proxy.swallow_match = b"/emergency/orders"
        with pytest.raises(Exception):  # noqa: B017 - the round fails, which is the point
            await b1.link.sync_once()
        assert await emergency_counts(hub) == (3, 3)
        assert b1.boxoffice.counts() == {"pending": 3}
    # the bridge "crashed": a new process on the same file replays its queue
    proxy.set_mode("up")
    proxy.swallow_match = b""
    async with running_bridge(proxy.url, db, "b1", bridge_clock()) as again:
        assert again.boxoffice.counts() == {"synced": 3}
        # and a forced replay of everything (state lost) creates nothing either
        again.store.db.execute("UPDATE em_orders SET state = 'pending'")
        await again.link.sync_once()
        assert again.boxoffice.counts() == {"synced": 3}
        answers = [
            again.store.db.execute("SELECT answer FROM em_orders WHERE id = ?", (o,)).fetchone()
            for o in sold
        ]
        assert all('"duplicate"' in a[0] for a in answers)
    assert await emergency_counts(hub) == (3, 3)
    assert (await cells(hub))["emergency:b1"]["sold"] == 3


async def test_revoked_key_refused_at_every_gate_and_for_sale(
    hub: TestClient, proxy: LinkProxy, tmp_path: Path
) -> None:
    async with (
        running_bridge(proxy.url, tmp_path / "b1.db", "b1", bridge_clock()) as b1,
        running_bridge(str(hub.make_url("")), tmp_path / "b2.db", "b2", bridge_clock()) as b2,
    ):
        cert = await certify(hub, b1)
        await allot(hub, "b1", 5)
        for b in (b1, b2):
            await b.link.sync_once()
        await cut(proxy, b1)
        sale = sell(b1, 1)
        await b1.emergency_sold(sale)
        credential = sale.tickets[0]["credential"]
        loop = b1.host.drivers["loop"]
        held = loop.pushed["b1-gate"][sale.tickets[0]["id"]]  # type: ignore[attr-defined]
        assert held.qr == credential and not held.revoked  # a device with its own list
        resp = await hub.post(
            "/api/admin/emergency/keys/revoke",
            json={"venue_id": "v1", "key_id": cert["key_id"], "staff": "zhang", "reason": "lost"},
            headers=ADMIN,
        )
        assert resp.status == 200
        await b2.link.sync_once()  # the revocation travels with the next sync
        refused = await scan(b2, credential)
        assert not refused.allow and refused.code == "BAD_CREDENTIAL", refused
        proxy.set_mode("up")
        await b1.link.sync_once()
        assert not (await scan(b1, credential)).allow
        held = loop.pushed["b1-gate"][sale.tickets[0]["id"]]  # type: ignore[attr-defined]
        assert held.revoked  # and the device's own list drops it
        with pytest.raises(SaleRefused) as exc:
            proxy.set_mode("down")
            await cut(proxy, b1)
            sell(b1, 1)
        assert exc.value.code == "NO_CERTIFIED_KEY"


async def test_uncertified_key_refused_at_the_gate(
    hub: TestClient, proxy: LinkProxy, tmp_path: Path
) -> None:
    """A bridge key id the venue never certified, and one certified for ANOTHER key."""
    async with running_bridge(proxy.url, tmp_path / "b1.db", "b1", bridge_clock()) as b1:
        cert = await certify(hub, b1)
        await b1.link.sync_once()
        forger, _ = generate_keypair()
        start = bridge_clock().now().replace(minute=0) - timedelta(hours=10)
        for key_id in (200, cert["key_id"]):
            forged = CredentialSigner(forger, key_id).sign(
                CredentialClaims(
                    ticket_id="00112233445566" + f"{key_id:02x}"[-2:],
                    product_id="adult",
                    valid_from=start,
                    valid_until=start + timedelta(days=1),
                    entries_allowed=1,
                    key_id=key_id,
                )
            )
            decision = await scan(b1, forged)
            assert not decision.allow and decision.code == "BAD_CREDENTIAL", decision


async def test_refusals_with_a_clear_reason(
    hub: TestClient, proxy: LinkProxy, tmp_path: Path
) -> None:
    async with running_bridge(proxy.url, tmp_path / "b1.db", "b1", bridge_clock()) as b1:
        # online: the hub's box office sells
        with pytest.raises(SaleRefused) as exc:
            sell(b1, 1)
        assert exc.value.code == "HUB_REACHABLE"
        await allot(hub, "b1", 2, slot="09:00-11:00")
        await b1.link.sync_once()
        await cut(proxy, b1)
        with pytest.raises(SaleRefused) as exc:
            sell(b1, 1, slot="09:00-11:00")
        assert exc.value.code == "NO_CERTIFIED_KEY"  # not certified yet
    proxy.set_mode("up")
    async with running_bridge(proxy.url, tmp_path / "b1.db", "b1", bridge_clock(2)) as b1:
        await certify(hub, b1)
        await b1.link.sync_once()
        await cut(proxy, b1)
        with pytest.raises(SaleRefused) as exc:  # 12:00: the 09:00-11:00 slot has ended
            sell(b1, 1, slot="09:00-11:00")
        assert exc.value.code == "SLOT_ENDED"
        with pytest.raises(SaleRefused) as exc:
            sell(b1, 1)  # 13:00-15:00: nothing set aside for this bridge
        assert exc.value.code == "NO_ALLOTMENT"
        with pytest.raises(SaleRefused) as exc:
            sell(b1, 1, payment="external")
        assert exc.value.code == "PAYMENT_REF_REQUIRED"


async def test_allotment_refused_for_an_ended_slot_and_given_back(hub: TestClient) -> None:
    resp = await allot(hub, "b1", 4, slot="09:00-11:00")
    assert resp.status == 200
    assert (await cells(hub, slot="09:00-11:00"))[""]["capacity"] == 6
    clock = hub_of(hub).clock
    clock.set(bridge_clock(1.5).now())  # 11:30: the slot has ended
    resp = await allot(hub, "b1", 5, slot="09:00-11:00")
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "SLOT_ENDED", body
    resp = await hub.post("/api/admin/emergency/give-back", json={"staff": "zhang"}, headers=ADMIN)
    assert (await resp.json())["units"] == 4
    after = await cells(hub, slot="09:00-11:00")
    assert after[""]["capacity"] == 10 and after["emergency:b1"]["capacity"] == 0


async def test_a_hub_without_emergency_sales_does_not_stop_the_round(tmp_path: Path) -> None:
    from hardware_bridge.boxoffice.sales import BoxOffice
    from hardware_bridge.boxoffice.sync import EmergencySync
    from hardware_bridge.store import BridgeStore
    from hardware_bridge.transport import HubRefused

    class OldHub:
        status = 404

        async def call(self, method: str, path: str, **kw: Any) -> Any:
            raise HubRefused(f"{method} {path}: refused {self.status}", self.status)

    async def unchanged() -> None:
        raise AssertionError("nothing changed")

    store = BridgeStore(tmp_path / "b.db")
    office = BoxOffice(store, "b1", "v1", view=lambda: None, is_online=lambda: False)
    hub = OldHub()
    sync = EmergencySync(office, hub, unchanged)  # type: ignore[arg-type]
    assert await sync.pull() is False
    hub.status = 401  # a refusal that is not "no such route" still fails the round
    with pytest.raises(HubRefused):
        await sync.pull()
    store.close()
