"""Payment-provider failures, as the channel plugins that call the providers see them.

The hub itself never talks to WeChat Pay: the ``wechat`` channel does (prepay while a
visitor waits, refunds and closes through the outbox). A failure there used to be a log
line only, so nothing could say "payments are failing" before visitors did. Plugins now
record each failed call here (``ctx.payment_failures.record(...)``, one small insert,
outside the order's transaction) and the ``payment_failures`` alert rule counts them in a
window."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.storage.health_tables import PaymentFailureRow

FAILURES = PaymentFailureRow.__table__


class PaymentFailures:
    """What a channel plugin hands a failed payment call to."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def record(
        self, provider: str, operation: str, *, code: str = "", reference: str = ""
    ) -> None:
        """One failed call: `provider` (``wechat``), `operation` (``prepay``,
        ``refund``, ``close``…), the provider's error `code` if it gave one, and the
        merchant-side `reference` (``out_trade_no`` / ``out_refund_no``; no personal
        data)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                FAILURES.insert().values(
                    provider=provider[:32],
                    operation=operation[:32],
                    code=code[:64],
                    reference=reference[:64],
                    at=self.clock.now(),
                )
            )
