"""`Outbox`: what the rest of the hub holds (``ChannelContext.outbox``, the order
pipeline). It queues calls inside the caller's transaction and owns this process's
workers, so whoever commits new calls can wake them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.contracts import ChannelAdapter, PartnerCall
from hub.outbox.breaker import Breakers
from hub.outbox.policy import RetryPolicy, policies_from
from hub.outbox.store import OutboxStore
from hub.outbox.worker import OutboxWorker


def new_worker_id(n: int = 0) -> str:
    """``host:pid:random:n``: unique among live workers even across containers that
    all run as pid 1, and short enough for the ``claimed_by`` column."""
    host = socket.gethostname()[:32]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{n}"


class Outbox:
    """Enqueue in the caller's transaction; `notify` after the commit.

    Typical wiring (in the app's ``cleanup_ctx``)::

        outbox = Outbox.with_workers(engine, deliverer=plugins.channels.find,
                                     clock=clock, count=settings.outbox_workers,
                                     poll_seconds=settings.outbox_poll_seconds,
                                     lease_seconds=settings.outbox_lease_seconds)
        await outbox.start()
        yield
        await outbox.stop()
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        policy_for: Callable[[str], RetryPolicy],
        workers: Sequence[OutboxWorker] = (),
    ) -> None:
        self.engine = engine
        self.policy_for = policy_for
        self.workers = list(workers)
        self._clock = clock

    @classmethod
    def with_workers(
        cls,
        engine: AsyncEngine,
        *,
        deliverer: Callable[[str], ChannelAdapter | None],
        clock: Clock,
        count: int = 1,
        policy_for: Callable[[str], RetryPolicy] | None = None,
        breakers: Breakers | None = None,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        batch: int = 50,
        concurrency: int = 16,
    ) -> Outbox:
        """An outbox with ``count`` workers sharing one set of breakers (a partner that
        is down is down for the whole process — and, through the database, for every
        hub process). ``policy_for`` defaults to each adapter's
        ``retry_policy``."""
        policy_for = policy_for or policies_from(deliverer)
        breakers = breakers or Breakers(clock, engine=engine)
        workers = [
            OutboxWorker(
                engine,
                deliverer=deliverer,
                policy_for=policy_for,
                clock=clock,
                worker_id=new_worker_id(n),
                batch=batch,
                poll_seconds=poll_seconds,
                lease_seconds=lease_seconds,
                concurrency=concurrency,
                breakers=breakers,
            )
            for n in range(count)
        ]
        return cls(engine, clock=clock, policy_for=policy_for, workers=workers)

    async def enqueue(self, conn: AsyncConnection, calls: Sequence[PartnerCall]) -> int:
        """Queue ``calls`` as part of ``conn``'s transaction (see `OutboxStore.enqueue`);
        call `notify` once that transaction has committed."""
        return await OutboxStore.enqueue(
            conn, calls, now=self._clock.now(), policy_for=self.policy_for
        )

    def notify(self) -> None:
        """Wake this process's workers (other processes find the calls at their poll)."""
        for worker in self.workers:
            worker.notify()

    async def start(self) -> None:
        for worker in self.workers:
            await worker.start()

    async def stop(self, *, grace_seconds: float | None = 10.0) -> None:
        for worker in self.workers:
            await worker.stop(grace_seconds=grace_seconds)
