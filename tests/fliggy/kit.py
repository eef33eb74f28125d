"""Fliggy test kit: a hub with the Fliggy channel, the sandbox Fliggy client, the
sandbox TOP gateway for our calls, and an outbox worker the test drives round by round on
the hub's FixedClock (backoff without waiting; only attempt timeouts are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from hub import Redemption, hookimpl
from hub.api.app import Hub, create_app
from hub.channels import ChannelSpec, load_all
from hub.clock import FixedClock
from hub.orders import records
from hub.outbox import OutboxWorker, policies_from
from hub.plugins import build_plugins
from hub.registries import ChannelRegistry
from hub.storage.tables import OrderRow, OutboxRow, TicketRow
from plugins.channel_fliggy.channel import FliggyChannel
from sandbox.ota.fliggy import SECRETS, FliggyClient, TopGateway
from tests.support import ADMIN, T0, TOMORROW, hub_of, seed, settings

ATTEMPT_SECONDS = 0.4
"""Each TOP call's real per-attempt timeout in these tests (the spec says 10 s)."""


def fast_spec(*, cumulative: bool = False, hmac: bool = False) -> ChannelSpec:
    """The shipped spec with short attempts; optionally write_off_type 1 or HMAC-MD5."""
    spec = load_all()["fliggy"]
    calls = {
        kind: cb.model_copy(
            update={"timeout_seconds": ATTEMPT_SECONDS}
            | ({"cumulative": cumulative} if kind == "verify" else {})
        )
        for kind, cb in spec.callbacks.items()
    }
    update_: dict[str, Any] = {"callbacks": calls}
    if hmac:
        out = spec.signing.outbound.model_copy(update={"scheme": "top_hmac_md5"})
        inb = spec.signing.inbound.model_copy(update={"scheme": "top_hmac_md5"})
        update_["signing"] = spec.signing.model_copy(update={"outbound": out, "inbound": inb})
    return spec.model_copy(update=update_)


class FastFliggy:
    """Registers a Fliggy channel over the built-in one (registered as a default)."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.channel = FliggyChannel(spec)

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add("fliggy", self.channel)


async def stock(client: TestClient) -> dict[str, int]:
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    cell = next(c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == "")
    return {"held": cell["held"], "sold": cell["sold"]}


@dataclass
class Rig:
    client: TestClient
    gateway: TopGateway
    clock: FixedClock
    worker: OutboxWorker
    sign_method: str = "md5"

    @property
    def hub(self) -> Hub:
        return hub_of(self.client)

    @property
    def fliggy(self) -> FliggyClient:
        return FliggyClient(self.client, now=self.clock.now, sign_method=self.sign_method)

    async def rows(self, state: str | None = None, kind: str | None = None) -> int:
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.partner == "fliggy")
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        if kind is not None:
            stmt = stmt.where(OutboxRow.kind == kind)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def orders(self) -> int:
        stmt = select(func.count()).select_from(OrderRow).where(OrderRow.channel == "fliggy")
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def deliver_all(self, max_rounds: int = 40) -> int:
        """Worker rounds, jumping the clock past each backoff, until nothing is pending."""
        for n in range(1, max_rounds + 1):
            await self.worker.run_once()
            if await self.rows("pending") + await self.rows("inflight") == 0:
                return n
            self.clock.advance(seconds=700)
        raise AssertionError("outbox did not drain")

    async def redeem(self, order_id: str, ticket_index: int, redemption_id: str) -> None:
        """Admit one ticket as the hub's redemption recording does: the entry count and
        the ``ticket_redeemed`` hook's calls in ONE transaction."""
        hub = self.hub
        tix = TicketRow.__table__
        async with hub.engine.begin() as conn:
            found = await records.load_order(conn, channel="fliggy", partner_order_id=order_id)
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


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    cumulative: bool = False,
    hmac: bool = False,
    capacity: int = 10,
    callbacks: bool = True,
    hub_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    clock = FixedClock(T0)
    gateway = TopGateway(SECRETS["FLIGGY_APP_KEY"], SECRETS["FLIGGY_APP_SECRET"], now=clock.now)
    url = await gateway.start()
    try:
        extra = {"FLIGGY_TOP_URL": url} if callbacks else {}
        channel_settings = {"fliggy": {**SECRETS, **extra}}
        plugins = build_plugins(extra=[FastFliggy(fast_spec(cumulative=cumulative, hmac=hmac))])
        app = create_app(
            settings(db_url, channel_settings=channel_settings, **(hub_settings or {})),
            plugins=plugins,
            clock=clock,
        )
        client = await aiohttp_client(app)
        await seed(client, capacity=capacity, slots=("",))
        hub = hub_of(client)
        worker = OutboxWorker(
            hub.engine,
            deliverer=hub.plugins.channels.find,
            policy_for=policies_from(hub.plugins.channels.find),
            clock=clock,
            worker_id="fliggy-test",
            lease_seconds=60,
        )
        yield Rig(client, gateway, clock, worker, "hmac" if hmac else "md5")
    finally:
        await gateway.close()
