"""A hub for one channel under test, seeded as staff would, and ways to look inside.

The kit talks to the hub over HTTP like the partner (through the probe) and reads stock,
orders and the outbox straight from the database, because "nothing written" can only be
checked where things would have been written. What staff or a venue would do (seed the
catalog, set an agency up, admit a ticket at a gate) goes through their HTTP APIs too.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from hub.api.app import HUB, Hub, create_app
from hub.clock import SystemClock
from hub.orders import records
from hub.outbox import Breakers, OutboxWorker, RetryPolicy
from hub.settings import Settings
from hub.storage.tables import InventoryRow, OrderRow, OutboxRow
from hub.testing.conformance.probe import ChannelProbe, ProbeAnswer, ProbeRequest

ADMIN_TOKEN = "conformance-admin"
BRIDGE_TOKEN = "conformance-bridge"
VENUE = "v1"
PRODUCT = "adult"
POOL = "main"
VENUE_TZ = ZoneInfo("Asia/Shanghai")

FAST_CALLBACKS = RetryPolicy(
    timeout_seconds=0.5,
    initial_seconds=0.01,
    multiplier=2,
    max_seconds=0.05,
    jitter_seconds=0,
    deadline_seconds=120,
)
"""The partner's schedule compressed: the kit checks that callbacks land once, not how
long the partner's real schedule takes (the spec's own tests check that)."""


class LeapingClock:
    """Real time, plus the leaps the kit takes over waits nobody needs to sit through.

    The callback worker runs on it: when nothing is due, the kit leaps to the next call's
    due time instead of sleeping until then (a backoff, a partner's batching delay). Only
    the per-attempt timeouts stay real, because the receiver's "timeout" fault is a real
    request that does not answer. The hub itself stays on the real clock: partners sign
    and check real timestamps.
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def leap_to(self, at: datetime) -> None:
        """Move on to `at` at once (never back)."""
        self._offset += max(at - self.now(), timedelta(0))


@dataclass
class KitHub:
    probe: ChannelProbe
    client: TestClient
    day: date
    callback_clock: LeapingClock = field(default_factory=LeapingClock)

    @property
    def hub(self) -> Hub:
        return self.client.app[HUB]

    async def send(self, request: ProbeRequest) -> tuple[int, Mapping[str, str], bytes]:
        resp = await self.client.request(
            request.method,
            request.path,
            data=io.BytesIO(request.body) if request.body else None,
            params=list(request.query),
            headers=dict(request.headers),
        )
        return resp.status, dict(resp.headers), await resp.read()

    async def ask(self, request: ProbeRequest) -> tuple[int, ProbeAnswer]:
        status, headers, raw = await self.send(request)
        return status, self.probe.read(status, headers, raw)

    async def expect_ok(self, request: ProbeRequest, what: str) -> ProbeAnswer:
        """Send a step the partner needs to succeed (a payment before a refund, say);
        AssertionError in the partner's words when it does not."""
        status, answer = await self.ask(request)
        if answer.code not in self.probe.codes.ok:
            raise AssertionError(f"{self.probe.channel} {what} refused: HTTP {status} {answer}")
        return answer

    async def admin(self, method: str, path: str, doc: Any = None) -> Any:
        """A staff call with the kit's admin token; the answer's JSON, or RuntimeError."""
        return await _admin(self.client, path, doc, method=method)

    async def admit(self, partner_order_id: str) -> str:
        """Admit the order's first unused ticket at a gate, as the venue's bridge reports
        it (its upload is what fires ``ticket_redeemed`` and queues the partner's
        redemption callbacks); returns the ticket id."""
        async with self.hub.engine.connect() as conn:
            order = await records.load_order(
                conn,
                ids=self.hub.orders.ids,
                channel=self.probe.channel,
                partner_order_id=partner_order_id,
            )
        ticket = next((t for t in order.tickets if not t.entries_used), None) if order else None
        if ticket is None:
            raise AssertionError(f"no unused ticket in {self.probe.channel} {partner_order_id}")
        decision = {
            "id": f"conformance-{ticket.id}",
            "ticket_id": ticket.id,
            "gate": "conformance-gate",
            "at": datetime.now(UTC).isoformat(),
            "accepted": True,
        }
        resp = await self.client.post(
            f"/api/bridge/venues/{VENUE}/redemptions",
            json={"bridge": "conformance", "redemptions": [decision]},
            headers={"Authorization": f"Bearer {BRIDGE_TOKEN}"},
        )
        result = await resp.json()
        if resp.status != 200 or result.get("counted") != 1:
            raise AssertionError(f"admitting {ticket.id}: HTTP {resp.status} {result}")
        return ticket.id

    async def taken(self) -> int:
        """Units held or sold in the common bucket of the tested day."""
        c = InventoryRow
        async with self.hub.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.coalesce(func.sum(c.held + c.sold), 0)).where(
                        c.pool == POOL, c.day == self.day
                    )
                )
            ).scalar_one()
        return int(row)

    async def orders(self) -> int:
        async with self.hub.engine.connect() as conn:
            stmt = select(func.count()).select_from(OrderRow)
            stmt = stmt.where(OrderRow.channel == self.probe.channel)
            return int((await conn.execute(stmt)).scalar_one())

    async def outbox_states(self) -> dict[str, int]:
        async with self.hub.engine.connect() as conn:
            stmt = (
                select(OutboxRow.state, func.count())
                .where(OutboxRow.partner == self.probe.channel)
                .group_by(OutboxRow.state)
            )
            return {state: int(n) for state, n in (await conn.execute(stmt)).all()}

    async def next_due(self) -> datetime | None:
        """When the channel's next pending call is due (None: nothing pending)."""
        async with self.hub.engine.connect() as conn:
            stmt = select(func.min(OutboxRow.next_attempt_at)).where(
                OutboxRow.partner == self.probe.channel, OutboxRow.state == "pending"
            )
            due = (await conn.execute(stmt)).scalar_one_or_none()
        # SQLite hands timestamps back naive; they are UTC like everything stored.
        return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due

    def callback_worker(self) -> OutboxWorker:
        """A worker on the compressed schedule and the kit's `LeapingClock`, with a
        breaker that never opens (the receiver's faults are few and deliberate)."""
        hub = self.hub
        return OutboxWorker(
            hub.engine,
            deliverer=hub.plugins.channels.find,
            policy_for=lambda partner: FAST_CALLBACKS,
            clock=self.callback_clock,
            worker_id="conformance-kit",
            lease_seconds=30,
            breakers=Breakers(self.callback_clock, failure_threshold=1000),
        )


async def _admin(client: TestClient, path: str, doc: Any, *, method: str = "PUT") -> Any:
    resp = await client.request(
        method, path, json=doc, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    if resp.status not in (200, 201):
        raise RuntimeError(f"{method} {path} failed: {resp.status} {await resp.text()}")
    return await resp.json()


@asynccontextmanager
async def kit_hub(
    probe: ChannelProbe,
    database_url: str,
    *,
    capacity: int = 10,
    extra_settings: Mapping[str, str] | None = None,
) -> AsyncIterator[KitHub]:
    """A running hub with the probe's channel configured, product `adult` on sale
    tomorrow (venue time, real clock: partners sign with real timestamps) and whatever
    the probe's `prepare` sets up."""
    settings = Settings(
        **{"bridge_tokens": {VENUE: BRIDGE_TOKEN}, **probe.hub_settings},
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        channel_settings={probe.channel: {**probe.settings, **(extra_settings or {})}},
        outbox_workers=0,
        expiry_sweep_seconds=3600,
    )
    app = create_app(settings, clock=SystemClock())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        day = datetime.now(UTC).astimezone(VENUE_TZ).date() + timedelta(days=1)
        await _admin(client, f"/api/admin/venues/{VENUE}", {"name": "Conformance Park"})
        await _admin(
            client,
            f"/api/admin/products/{PRODUCT}",
            {"venue_id": VENUE, "name": "Adult", "pool": POOL, "prices": [{"amount": 10000}]},
        )
        await _admin(
            client,
            "/api/admin/inventory",
            {
                "pool": POOL,
                "date_from": day.isoformat(),
                "date_to": day.isoformat(),
                "slots": [{"code": "", "capacity": capacity}],
            },
        )
        kit = KitHub(probe, client, day)
        await probe.prepare(kit)
        yield kit
    finally:
        await client.close()
