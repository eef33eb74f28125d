"""A hub with one channel under test, on a fixed clock, and an outbox worker the test
drives round by round: for a channel plugin's own tests (ours and third parties').

Why a driven worker rather than the hub's background workers: a test of partner calls
wants "every call landed once, whatever the partner did" without waiting out the spec's
real backoff. `ChannelRig.deliver_all` runs one worker round, moves the `FixedClock`
to the moment the next call is due (as a polling worker would pick it up) and goes
again until nothing is pending or in flight; only the
per-attempt timeouts stay real, so a test shortens them in the spec (`with_callbacks`)
and registers that spec over the built-in channel (`ChannelOverride`).

`ChannelRig.redeem` admits a ticket through the hub's own redemption recording (what a
venue bridge's upload runs: the entry counted once by its id, the ``ticket_redeemed``
hook's partner calls in the same transaction), so a channel's "ticket used" callbacks
are tested against the real thing without a gate.

Usage (a subclass names the channel and adds its sandbox partner)::

    @dataclass
    class AcmeRig(ChannelRig):
        partner: ClassVar[str] = "acme"
        receiver: AcmeReceiver

    async with serving(AcmeReceiver()) as url:
        rig = await AcmeRig.start(aiohttp_client, settings, clock=FixedClock(T0),
                                  plugins=[ChannelOverride("acme", AcmeChannel(spec))],
                                  seed=my_seed, receiver=receiver)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.app import HUB, Hub, create_app
from hub.api.bridge import recorder
from hub.channels import ChannelSpec
from hub.channels.spec_outbound import Callback
from hub.clock import FixedClock
from hub.orders import records
from hub.outbox import OutboxWorker, policies_from
from hub.plugins import build_plugins
from hub.redemptions.upload_models import RedemptionIn, UploadIn
from hub.sdk import ChannelAdapter, Order, Ticket, hookimpl
from hub.sdk.registries import ChannelRegistry
from hub.settings import Settings
from hub.storage.tables import OrderRow, OutboxRow


class Sandbox(Protocol):
    """A sandbox partner listening on loopback: ``start`` returns its URL."""

    async def start(self) -> str: ...

    async def close(self) -> None: ...


@asynccontextmanager
async def serving(sandbox: Sandbox) -> AsyncIterator[str]:
    """The sandbox partner running for the block (closed even if the test fails)."""
    url = await sandbox.start()
    try:
        yield url
    finally:
        await sandbox.close()


class ChannelOverride:
    """Registers a channel under `name` over the built-in one (which is registered as a
    default), e.g. the channel built from a spec with short attempt timeouts."""

    def __init__(self, name: str, channel: ChannelAdapter) -> None:
        self.name = name
        self.channel = channel

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add(self.name, self.channel)


def with_callbacks(
    spec: ChannelSpec, change: Callable[[str, Callback], Mapping[str, Any]]
) -> ChannelSpec:
    """The spec with each callback updated by ``change(kind, callback)`` (the fields to
    replace): attempt timeouts a test can wait out, a compressed retry schedule."""
    callbacks = {
        kind: cb.model_copy(update=dict(change(kind, cb))) for kind, cb in spec.callbacks.items()
    }
    return spec.model_copy(update={"callbacks": callbacks})


def in_visitor_order(order: Order) -> list[Ticket]:
    """An order's tickets in visitor order: what "the i-th ticket" means to a test."""
    return sorted(order.tickets, key=lambda t: (t.visitor_index or 0, t.id))


@dataclass
class ChannelRig:
    """A hub whose `partner` channel's calls go to a sandbox, and the worker to land them."""

    partner: ClassVar[str]
    clock_step_seconds: ClassVar[float] = 60.0
    """How far a round moves the clock when no call of the channel has a time it is due
    (none pending, none leased); otherwise the clock goes to the earliest such time."""

    client: TestClient
    clock: FixedClock
    worker: OutboxWorker

    @classmethod
    async def start(
        cls,
        aiohttp_client: Callable[[Any], Awaitable[TestClient]],
        settings: Settings,
        *,
        clock: FixedClock,
        plugins: Iterable[object] = (),
        seed: Callable[[TestClient], Awaitable[None]] | None = None,
        **fields: Any,
    ) -> Self:
        """A hub on `settings` and `clock` (plus `plugins`, registered last), seeded,
        and a worker that does nothing until the test runs a round."""
        app = create_app(
            settings,
            plugins=build_plugins(blocked=settings.blocked_plugins, extra=plugins),
            clock=clock,
        )
        client = await aiohttp_client(app)
        if seed is not None:
            await seed(client)
        hub = client.app[HUB]
        worker = OutboxWorker(
            hub.engine,
            deliverer=hub.plugins.channels.find,
            policy_for=policies_from(hub.plugins.channels.find),
            clock=clock,
            worker_id=f"{cls.partner}-test",
            lease_seconds=60,
        )
        return cls(client=client, clock=clock, worker=worker, **fields)

    @property
    def hub(self) -> Hub:
        return self.client.app[HUB]

    async def rows(self, state: str | None = None, kind: str | None = None) -> int:
        """Outbox rows of this channel (in a state, of a kind)."""
        stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.partner == self.partner)
        if state is not None:
            stmt = stmt.where(OutboxRow.state == state)
        if kind is not None:
            stmt = stmt.where(OutboxRow.kind == kind)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def last_error(self) -> str:
        """Every recorded delivery error of this channel's rows, joined."""
        stmt = select(OutboxRow.last_error).where(OutboxRow.partner == self.partner)
        async with self.hub.engine.connect() as conn:
            return " | ".join(str(e) for e in (await conn.execute(stmt)).scalars() if e)

    async def orders(self) -> int:
        """Orders this channel holds in the hub."""
        stmt = select(func.count()).select_from(OrderRow).where(OrderRow.channel == self.partner)
        async with self.hub.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def deliver_all(self, max_rounds: int = 40) -> int:
        """Run worker rounds, moving the clock to the next call's due time after each
        (the end of its backoff, of a breaker's hold, or of a lease), until nothing is
        pending or in flight; returns the rounds it took.

        The clock goes exactly where a polling worker would next find work, never a
        fixed stride beyond it: a stride longer than the backoff starts later attempts
        after the call's deadline, which the worker rightly refuses (dead-letter)."""
        for n in range(1, max_rounds + 1):
            await self.worker.run_once()
            if await self.rows("pending") + await self.rows("inflight") == 0:
                return n
            due = await self._next_due()
            if due is None:
                self.clock.advance(seconds=self.clock_step_seconds)
            elif due > self.clock.now():
                self.clock.set(due)
        raise AssertionError("outbox did not drain")

    async def _next_due(self) -> datetime | None:
        """The earliest time one of this channel's calls can be claimed again: a pending
        call's next attempt, or an inflight call's lease running out."""
        pending = select(func.min(OutboxRow.next_attempt_at)).where(
            OutboxRow.partner == self.partner, OutboxRow.state == "pending"
        )
        leased = select(func.min(OutboxRow.lease_until)).where(
            OutboxRow.partner == self.partner, OutboxRow.state == "inflight"
        )
        async with self.hub.engine.connect() as conn:
            found = [(await conn.execute(q)).scalar_one() for q in (pending, leased)]
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in found if t is not None]
        return min(times, default=None)

    async def redeem(self, partner_order_id: str, ticket_index: int, redemption_id: str) -> Ticket:
        """Admit one ticket as a venue bridge reports it, through the hub's own
        redemption recording (`RedemptionRecorder`: the entry counted once by its id, the
        ``ticket_redeemed`` hook's calls queued in the same transaction). Calling it again
        with the same `redemption_id` is the bridge's re-upload: recorded once. Returns
        the ticket as it stands afterwards."""
        order = await self._order(partner_order_id)
        ticket = in_visitor_order(order)[ticket_index]
        await self._upload(order, ticket, redemption_id)
        after = await self._order(partner_order_id)
        return next(t for t in after.tickets if t.id == ticket.id)

    async def _order(self, partner_order_id: str) -> Order:
        async with self.hub.engine.connect() as conn:
            found = await records.load_order(
                conn,
                ids=self.hub.orders.ids,
                channel=self.partner,
                partner_order_id=partner_order_id,
            )
        assert found is not None, partner_order_id
        return found

    async def _upload(self, order: Order, ticket: Ticket, redemption_id: str) -> None:
        hub = self.hub
        decision = RedemptionIn(
            id=redemption_id, ticket_id=ticket.id, gate="gate-1", at=self.clock.now(), accepted=True
        )
        await recorder(hub).record(
            order.venue_id,
            UploadIn(bridge="rig", redemptions=[decision]),
            on_calls=hub.outbox.notify,
        )
