"""`AlertService`: this process's periodic evaluation (a background task the app starts
in its ``cleanup_ctx``) and what the admin API calls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.alerts.bridges import BridgeSeen
from hub.alerts.delivery import Destination
from hub.alerts.engine import Enqueue, Move, evaluate
from hub.alerts.health import BridgeHealth
from hub.alerts.payments import PaymentFailures
from hub.clock import Clock
from hub.tasks import Periodic

log = logging.getLogger("hub.alerts")


class AlertService:
    """Evaluates every enabled rule each ``every_seconds`` (0: never by itself — tests and
    embedding code call `evaluate_now`). ``notify`` wakes the outbox after messages were
    queued."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        enqueue: Enqueue,
        notify: Callable[[], None],
        destinations: Mapping[str, Destination],
        every_seconds: float = 15.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.destinations = dict(destinations)
        self.every_seconds = every_seconds
        self.bridges = BridgeSeen(engine)
        self.health = BridgeHealth(engine)  # the bridges' health reports
        self.payments = PaymentFailures(engine, clock)  # what channel plugins record
        self._enqueue = enqueue
        self._notify = notify
        self._loop = Periodic("alert-evaluation", every_seconds, self.evaluate_now, log)

    async def evaluate_now(self) -> list[Move]:
        moves = await evaluate(self.engine, self.clock.now(), self._enqueue)
        for move in moves:
            log.info(
                "alert %s %s: rule=%r value=%g",
                move.alert_id,
                move.transition,
                move.rule,
                move.value,
            )
        if moves:
            self._notify()
        return moves

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
