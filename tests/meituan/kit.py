"""Meituan test kit: a hub with the Meituan channel, the sandbox Meituan client (signing
in the hub's fixed time), the sandbox notice receiver, and an outbox worker the test
drives round by round on the hub's FixedClock (backoff without waiting; only attempt
timeouts are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from hub import Redemption
from hub.api.app import Hub, create_app
from hub.clock import FixedClock
from hub.orders import records
from hub.outbox import OutboxWorker, policies_from
from hub.storage.tables import OrderRow, OutboxRow, TicketRow
from sandbox.ota.meituan import MeituanClient, MeituanReceiver
from tests.support import ADMIN, T0, TOMORROW, hub_of, id_number, seed, settings

SECRETS = {
    "MEITUAN_PARTNER_ID": "mt-partner-7",
    "MEITUAN_CLIENT_ID": "mt-client-7",
    "MEITUAN_CLIENT_SECRET": "mt-secret-abc",
    "MEITUAN_AES_KEY": "0123456789abcdef",
}
ATTEMPT_SCALE = "0.04"
"""Notices' schedule compressed: a 10 s attempt becomes 0.4 s (MEITUAN_CALLBACK_TIME_SCALE)."""


def meituan(client: TestClient, clock: FixedClock, **over: Any) -> MeituanClient:
    """The sandbox Meituan, signing with the hub's (fixed) time."""
    keys: dict[str, Any] = {
        "partner_id": SECRETS["MEITUAN_PARTNER_ID"],
        "client_id": SECRETS["MEITUAN_CLIENT_ID"],
        "client_secret": SECRETS["MEITUAN_CLIENT_SECRET"],
        "aes_key": SECRETS["MEITUAN_AES_KEY"],
    }
    return MeituanClient(http=client, now=clock.now, **{**keys, **over})


def order(mt: str, deal: str = "adult", quantity: int = 1, **over: Any) -> dict[str, Any]:
    """Meituan's create-order body (unconfirmed field names, as in the spec's mapping)."""
    body: dict[str, Any] = {
        "orderId": mt,
        "partnerDealId": deal,
        "quantity": quantity,
        "travelDate": TOMORROW.isoformat(),
        "unitPrice": "100.00",
        "contactPerson": {"name": "Han Meimei", "mobile": "13900000000"},
        "visitors": [],
    }
    body.update(over)
    return body


def visitors(n: int, first: int = 200) -> list[dict[str, Any]]:
    """``n`` real-name visitors with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "credentialType": 0, "credentials": id_number(seq=first + i)}
        for i in range(n)
    ]


async def stock(client: TestClient) -> dict[str, int]:
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    cell = next(c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == "")
    return {"held": cell["held"], "sold": cell["sold"]}


async def order_count(client: TestClient) -> int:
    async with hub_of(client).engine.connect() as conn:
        stmt = select(func.count()).select_from(OrderRow).where(OrderRow.channel == "meituan")
        return int((await conn.execute(stmt)).scalar_one())


@dataclass
class Rig:
    """A hub whose Meituan notices go to a sandbox receiver, and the worker to land them."""

    client: TestClient
    receiver: MeituanReceiver
    clock: FixedClock
    worker: OutboxWorker

    @property
    def hub(self) -> Hub:
        return hub_of(self.client)

    def meituan(self, **over: Any) -> MeituanClient:
        return meituan(self.client, self.clock, **over)

    async def rows(self, state: str | None = None, kind: str | None = None) -> int:
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.partner == "meituan")
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        if kind is not None:
            stmt = stmt.where(OutboxRow.kind == kind)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def last_error(self) -> str:
        stmt = select(OutboxRow.last_error).where(OutboxRow.partner == "meituan")
        async with self.hub.engine.connect() as conn:
            return " | ".join(str(e) for e in (await conn.execute(stmt)).scalars() if e)

    async def deliver_all(self, max_rounds: int = 40) -> int:
        """Run worker rounds, jumping the clock past each backoff, until nothing is
        pending or in flight; returns the rounds it took."""
        for n in range(1, max_rounds + 1):
            await self.worker.run_once()
            if await self.rows("pending") + await self.rows("inflight") == 0:
                return n
            self.clock.advance(seconds=60)
        raise AssertionError("outbox did not drain")

    async def redeem(self, mt: str, ticket_index: int, redemption_id: str) -> None:
        """Admit one ticket the way the hub's redemption recording does: the ticket's
        entry count and the ``ticket_redeemed`` hook's calls in ONE transaction."""
        hub = self.hub
        tix = TicketRow.__table__
        async with hub.engine.begin() as conn:
            found = await records.load_order(conn, channel="meituan", partner_order_id=mt)
            assert found is not None
            ticket = sorted(found.tickets, key=lambda t: (t.visitor_index or 0, t.id))[ticket_index]
            await conn.execute(
                update(tix)
                .where(tix.c.id == ticket.id)
                .values(entries_used=tix.c.entries_used + 1, state="used")
            )
            after = await records.load_order(conn, order_id=found.id)
            assert after is not None
            admitted = next(t for t in after.tickets if t.id == ticket.id)
            redemption = Redemption(
                id=redemption_id,
                ticket_id=ticket.id,
                venue_id=after.venue_id,
                gate="gate-1",
                at=self.clock.now(),
            )
            calls = hub.plugins.ticket_redeemed(after, admitted, redemption)
            await hub.outbox.enqueue(conn, calls)

    async def report_again(self, mt: str, redemption_id: str) -> None:
        """The bridge re-reports an admission the hub already recorded (its retry): the
        hook runs again with the same redemption, the outbox dedupes its call."""
        hub = self.hub
        async with hub.engine.begin() as conn:
            found = await records.load_order(conn, channel="meituan", partner_order_id=mt)
            assert found is not None
            ticket = sorted(found.tickets, key=lambda t: (t.visitor_index or 0, t.id))[0]
            redemption = Redemption(
                id=redemption_id,
                ticket_id=ticket.id,
                venue_id=found.venue_id,
                gate="gate-1",
                at=self.clock.now(),
            )
            await hub.outbox.enqueue(conn, hub.plugins.ticket_redeemed(found, ticket, redemption))


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    callbacks: bool = True,
    receiver_secret: str | None = None,
    hub_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    clock = FixedClock(T0)
    receiver = MeituanReceiver(
        SECRETS["MEITUAN_PARTNER_ID"],
        SECRETS["MEITUAN_CLIENT_ID"],
        receiver_secret or SECRETS["MEITUAN_CLIENT_SECRET"],
        SECRETS["MEITUAN_AES_KEY"],
        now=clock.now,
    )
    url = await receiver.start()
    try:
        channel = {**SECRETS, "MEITUAN_CALLBACK_TIME_SCALE": ATTEMPT_SCALE, **(extra or {})}
        if callbacks:
            channel["MEITUAN_CALLBACK_URL"] = url
        hub = settings(db_url, channel_settings={"meituan": channel}, **(hub_settings or {}))
        app = create_app(hub, clock=clock)
        client = await aiohttp_client(app)
        await seed(client, capacity=capacity, slots=("",))
        hub = hub_of(client)
        worker = OutboxWorker(
            hub.engine,
            deliverer=hub.plugins.channels.find,
            policy_for=policies_from(hub.plugins.channels.find),
            clock=clock,
            worker_id="meituan-test",
            lease_seconds=60,
        )
        yield Rig(client, receiver, clock, worker)
    finally:
        await receiver.close()
