"""Refund and cancel from the console, through the order service's own moves
(`hub.orders.lifecycle.Lifecycle`), so stock, per-ID counters, B2B accounts, the bridges
and the partner (its callback goes to the outbox) hear of it exactly as when the partner
asks. The audit line is written in the SAME transaction as the move: a refund that rolls
back leaves no line, and a line never describes a refund that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.console.audit import record
from hub.domain import DenialCode
from hub.domain.errors import DeniedError
from hub.orders import records
from hub.orders.service import OrderService, fingerprint
from hub.sdk.outcome import Outcome

Move = Literal["refund", "cancel"]
REASON_MAX = 300


@dataclass(frozen=True, slots=True)
class Done:
    ok: bool
    code: str  # the denial code when not ok
    message: str
    state: str | None  # the order's state after the move


async def move(
    orders: OrderService,
    order_id: str,
    what: Move,
    *,
    actor: str,
    reason: str,
    remote: str,
    notify: Callable[[], None],
) -> Done:
    """Refund every unused ticket of the order, or cancel it; with its audit line.
    ``notify`` wakes the outbox's workers once the move (and its partner calls) is
    committed (`hub.outbox.Outbox.notify`)."""

    async def op(conn: AsyncConnection, now: datetime) -> Outcome:
        before = await records.load_order(conn, ids=orders.ids, order_id=order_id, for_update=True)
        if before is None:
            raise DeniedError.of(DenialCode.UNKNOWN_ORDER, f"No order {order_id}")
        if what == "refund":
            outcome = await orders.lifecycle.refund(conn, order_id, None, now)
        else:
            outcome = await orders.lifecycle.cancel(conn, order_id, now)
        after: dict[str, Any] = outcome.body.get("order", {})
        await record(
            conn,
            now,
            actor=actor,
            action=f"order.{what}",
            target=f"order:{order_id}",
            before={"state": before.state.value},
            after={
                "state": after.get("state"),
                "reason": reason,
                **(
                    {
                        "refunded_tickets": outcome.body.get("refunded_tickets", []),
                        "refunded_amount": outcome.body.get("refunded_amount", 0),
                    }
                    if what == "refund"
                    else {}
                ),
            },
            remote=remote,
        )
        return outcome

    outcome = await orders.lifecycle.run(
        op, orders.clock.now(), None, fingerprint(what, order_id, "console")
    )
    if outcome.ok:
        notify()
        state = outcome.body.get("order", {}).get("state")
        return Done(True, "", "", state)
    return Done(
        False, str(outcome.body.get("code", "")), str(outcome.body.get("message", "")), None
    )
