"""Douyin test kit: a hub with the Douyin channel, the sandbox Douyin (SPI caller and
fulfilment OpenAPI), and an outbox worker the test drives round by round on the hub's
FixedClock (backoff without waiting; only attempt timeouts are real, and short)."""

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
from plugins.channel_douyin.channel import DouyinChannel
from sandbox.ota.douyin import DouyinClient, DouyinOpenApi
from tests.support import ADMIN, T0, TOMORROW, hub_of, id_number, seed, settings

SECRETS = {"DOUYIN_CLIENT_KEY": "awk-test-key", "DOUYIN_CLIENT_SECRET": "test-client-secret"}
ATTEMPT_SECONDS = 0.4
"""Each OpenAPI call's real per-attempt timeout in these tests (the spec says 10 s)."""


def fast_spec() -> ChannelSpec:
    spec = load_all()["douyin"]
    callbacks = {
        kind: cb.model_copy(update={"timeout_seconds": ATTEMPT_SECONDS})
        for kind, cb in spec.callbacks.items()
    }
    return spec.model_copy(update={"callbacks": callbacks})


class FastDouyin:
    """Registers a Douyin channel over the built-in one (registered as a default)."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.channel = DouyinChannel(spec)

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add("douyin", self.channel)


def tourists(n: int, first: int = 100) -> list[dict[str, Any]]:
    """``n`` real-name tourists with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "id_type": 1, "id_no": id_number(seq=first + i)} for i in range(n)
    ]


def order(oid: str, sku: str = "adult", count: int = 1, **over: Any) -> dict[str, Any]:
    """A Douyin create_order body (field names: ``channel_specs/douyin.toml`` [mapping])."""
    body: dict[str, Any] = {
        "order_id": oid,
        "sku_id": sku,
        "count": count,
        "use_date": TOMORROW.isoformat(),
        "unit_price": 10000,
        "tourists": [],
    }
    body.update(over)
    return body


async def stock(client: TestClient) -> dict[str, int]:
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    cell = next(c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == "")
    return {"held": cell["held"], "sold": cell["sold"]}


@dataclass
class Rig:
    """A hub whose Douyin callbacks go to the sandbox OpenAPI, and the worker to land them."""

    client: TestClient
    douyin_api: DouyinOpenApi
    clock: FixedClock
    worker: OutboxWorker
    channel: DouyinChannel

    @property
    def hub(self) -> Hub:
        return hub_of(self.client)

    def douyin(self, **over: Any) -> DouyinClient:
        keys = {
            "client_key": SECRETS["DOUYIN_CLIENT_KEY"],
            "client_secret": SECRETS["DOUYIN_CLIENT_SECRET"],
        }
        return DouyinClient(
            http=self.client,
            now_ms=lambda: int(self.clock.now().timestamp() * 1000),
            **{**keys, **over},
        )

    async def rows(self, state: str | None = None) -> int:
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.partner == "douyin")
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def orders(self) -> int:
        stmt = select(func.count()).select_from(OrderRow).where(OrderRow.channel == "douyin")
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def deliver_all(self, max_rounds: int = 40) -> int:
        """Worker rounds, jumping the clock past each backoff, until nothing is pending
        or in flight; returns the rounds it took."""
        for n in range(1, max_rounds + 1):
            await self.worker.run_once()
            if await self.rows("pending") + await self.rows("inflight") == 0:
                return n
            self.clock.advance(seconds=60)
        raise AssertionError("outbox did not drain")

    async def redeem(self, oid: str, ticket_index: int, redemption_id: str) -> str:
        """Admit one ticket the way the hub's redemption recording does: the ticket's
        entry count and the ``ticket_redeemed`` hook's calls in ONE transaction.
        Returns the ticket's voucher code."""
        hub = self.hub
        tix = TicketRow.__table__
        async with hub.engine.begin() as conn:
            found = await records.load_order(conn, channel="douyin", partner_order_id=oid)
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
        return admitted.credential


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    **hub_settings: Any,
) -> AsyncIterator[Rig]:
    api = DouyinOpenApi(
        SECRETS["DOUYIN_CLIENT_KEY"], SECRETS["DOUYIN_CLIENT_SECRET"], hang_seconds=1.0
    )
    url = await api.start()
    try:
        clock = FixedClock(T0)
        channel_settings = {
            "douyin": {
                **SECRETS,
                "DOUYIN_OPENAPI_URL": url,
                "DOUYIN_POI_ID": "poi-1",
                **(extra or {}),
            }
        }
        fast = FastDouyin(fast_spec())
        plugins = build_plugins(extra=[fast])
        app = create_app(
            settings(db_url, channel_settings=channel_settings, **hub_settings),
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
            worker_id="douyin-test",
            lease_seconds=60,
        )
        yield Rig(client, api, clock, worker, fast.channel)
    finally:
        await api.close()
