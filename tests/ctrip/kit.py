"""Ctrip test kit: a hub with the Ctrip channel, the sandbox Ctrip client, the sandbox
Ctrip callback receiver, and an outbox worker the test drives round by round on the
hub's FixedClock (backoff without waiting; only attempt timeouts are real, and short)."""

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
from hub.storage.tables import OutboxRow, TicketRow
from plugins.channel_ctrip.adapter import CtripChannel
from sandbox.ota.ctrip import CtripClient, CtripReceiver
from tests.support import ADMIN, T0, TOMORROW, hub_client, hub_of, id_number, seed, settings

SECRETS = {
    "CTRIP_ACCOUNT_ID": "acct-1",
    "CTRIP_SIGN_KEY": "sign-key-123",
    "CTRIP_AES_KEY": "0123456789abcdef",
    "CTRIP_AES_IV": "fedcba9876543210",
}
ATTEMPT_SECONDS = 0.4
"""Each callback's real per-attempt timeout in these tests (the spec says 10 s)."""


INVENTORY_ATTEMPT_SECONDS = 5.0
"""DateInventoryModify reads the stock of every day and product before it sends: on a
shared CI machine that needs more than the other callbacks' short attempt."""


def fast_spec(rate_per_minute: int | None = None) -> ChannelSpec:
    """The shipped Ctrip spec with short attempt timeouts (and optionally a rate)."""
    spec = load_all()["ctrip"]
    callbacks = {}
    for kind, cb in spec.callbacks.items():
        seconds = INVENTORY_ATTEMPT_SECONDS if kind == "DateInventoryModify" else ATTEMPT_SECONDS
        change: dict[str, Any] = {"timeout_seconds": seconds}
        if rate_per_minute is not None and cb.rate_per_minute:
            change["rate_per_minute"] = rate_per_minute
        callbacks[kind] = cb.model_copy(update=change)
    return spec.model_copy(update={"callbacks": callbacks})


class FastCtrip:
    """Registers a Ctrip channel over the built-in one (which is registered as a default)."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.channel = CtripChannel(spec)

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add("ctrip", self.channel)


async def ctrip_hub(aiohttp_client: Any, db_url: str, capacity: int = 10) -> TestClient:
    """A hub with Ctrip configured for inbound calls only (no callback URL)."""
    client = await hub_client(aiohttp_client, db_url, channel_settings={"ctrip": SECRETS})
    await seed(client, capacity=capacity, slots=("",))
    return client


def ctrip(client: TestClient, **over: str) -> CtripClient:
    keys = {
        "account_id": SECRETS["CTRIP_ACCOUNT_ID"],
        "sign_key": SECRETS["CTRIP_SIGN_KEY"],
        "aes_key": SECRETS["CTRIP_AES_KEY"],
        "aes_iv": SECRETS["CTRIP_AES_IV"],
    }
    return CtripClient(base_url="", http=client, **{**keys, **over})


def order(ota: str, plu: str = "adult", quantity: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "otaOrderId": ota,
        "items": [
            {"PLU": plu, "quantity": quantity, "useStartDate": TOMORROW.isoformat(), "price": 100}
        ],
        "contacts": [{"name": "Li Lei", "mobile": "13800000000"}],
        "passengers": [],
    }
    body.update(over)
    return body


def id_passengers(n: int, first: int = 100) -> list[dict[str, Any]]:
    """``n`` real-name passengers with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "cardType": "1", "cardNo": id_number(seq=first + i)}
        for i in range(n)
    ]


async def stock(client: TestClient) -> dict[str, int]:
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    cell = next(c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == "")
    return {"held": cell["held"], "sold": cell["sold"]}


@dataclass
class CallbackRig:
    """A hub whose Ctrip callbacks go to a sandbox receiver, and the worker to land them."""

    client: TestClient
    receiver: CtripReceiver
    clock: FixedClock
    worker: OutboxWorker

    @property
    def hub(self) -> Hub:
        return hub_of(self.client)

    @property
    def ctrip(self) -> CtripClient:
        return ctrip(self.client)

    async def rows(self, state: str | None = None, kind: str | None = None) -> int:
        stmt = select(func.count()).select_from(OutboxRow)
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        if kind is not None:
            stmt = stmt.where(OutboxRow.kind == kind)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def deliver_all(self, max_rounds: int = 40) -> int:
        """Run worker rounds, jumping the clock past each backoff, until nothing is
        pending or in flight; returns the rounds it took."""
        for n in range(1, max_rounds + 1):
            await self.worker.run_once()
            if await self.rows("pending") + await self.rows("inflight") == 0:
                return n
            self.clock.advance(seconds=700)
        raise AssertionError("outbox did not drain")

    async def redeem(self, ota: str, ticket_index: int, redemption_id: str) -> None:
        """Admit one ticket the way the hub's redemption recording does: the ticket's
        entry count and the ``ticket_redeemed`` hook's calls in ONE transaction."""
        hub = self.hub
        tix = TicketRow.__table__
        async with hub.engine.begin() as conn:
            found = await records.load_order(conn, channel="ctrip", partner_order_id=ota)
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
async def callback_rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    async_services: str = "PayPreOrder,CreateOrder,CancelOrder,RefundOrder",
    rate_per_minute: int | None = None,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    **hub_settings: Any,
) -> AsyncIterator[CallbackRig]:
    receiver = CtripReceiver(
        SECRETS["CTRIP_ACCOUNT_ID"],
        SECRETS["CTRIP_SIGN_KEY"],
        SECRETS["CTRIP_AES_KEY"],
        SECRETS["CTRIP_AES_IV"],
    )
    url = await receiver.start()
    try:
        clock = FixedClock(T0)
        channel_settings = {
            "ctrip": {
                **SECRETS,
                "CTRIP_CALLBACK_URL": url,
                "CTRIP_ASYNC_SERVICES": async_services,
                **(extra or {}),
            }
        }
        plugins = build_plugins(extra=[FastCtrip(fast_spec(rate_per_minute))])
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
            worker_id="ctrip-test",
            lease_seconds=60,
        )
        yield CallbackRig(client, receiver, clock, worker)
    finally:
        await receiver.close()
