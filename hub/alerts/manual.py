"""Moves a person makes on alerts (the console's forms), beside the evaluation's own:
turning a rule off or on, and resolving an alert by hand.

* Turning a rule off resolves its unresolved alert at once, with the clearing message
  (as deleting it does in the admin API): nothing evaluates a disabled rule, so the
  alert would otherwise stay open for ever and its robots never hear that it ended.
* Resolving by hand is allowed only while the rule's value is below its opening level
  (in the hysteresis band, or cleared but not yet evaluated): above it, the next
  evaluation would open a new alert at once and send the robots a second opening
  message — the storm the hysteresis is there to prevent. The resolution goes through
  `engine.resolve`, so the robots get the same one clearing message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.alerts import engine
from hub.alerts.engine import Enqueue, Move
from hub.alerts.measures import measure
from hub.alerts.rules import RULES, R, as_dict

A = engine.A


class StillAbove(Exception):
    """The rule's value is still at or above its opening level."""

    def __init__(self, value: float, open_at: float) -> None:
        super().__init__(f"value {value:g} is at or above {open_at:g}")
        self.value, self.open_at = value, open_at


async def rule(conn: AsyncConnection, rule_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(RULES).where(R.id == rule_id))).first()
    return as_dict(row) if row else None


async def alert(conn: AsyncConnection, alert_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(engine.ALERTS).where(A.id == alert_id))).first()
    return engine.as_dict(row) if row else None


async def of_rule(conn: AsyncConnection, rule_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(engine.ALERTS).where(A.rule_id == rule_id).order_by(A.id.desc()).limit(limit)
    return [engine.as_dict(r) for r in (await conn.execute(stmt)).all()]


async def set_enabled(
    conn: AsyncConnection,
    rule_id: int,
    enabled: bool,
    *,
    now: datetime,
    enqueue: Enqueue,
    why: str,
) -> tuple[dict[str, Any], Move | None] | None:
    """Turn a rule on or off; off resolves its unresolved alert (``why`` is the message's
    detail). None when there is no such rule."""
    row = (
        await conn.execute(
            update(RULES)
            .where(R.id == rule_id)
            .values(enabled=enabled, updated_at=now)
            .returning(*R)
        )
    ).first()
    if row is None:
        return None
    changed = as_dict(row)
    if enabled:
        return changed, None
    value = (await conn.execute(select(A.value).where(A.open_key == rule_id))).scalar()
    if value is None:
        return changed, None
    return changed, await engine.resolve(conn, changed, value, why, now, enqueue)


async def resolve_by_hand(
    conn: AsyncConnection,
    alert_row: Mapping[str, Any],
    *,
    now: datetime,
    enqueue: Enqueue,
    why: str,
) -> Move | None:
    """Resolve an unresolved alert whose rule now reads below its opening level.

    :raises StillAbove: the value is still at or above ``open_at`` (it would reopen).
    :returns: the move, or None when the alert was already resolved (by the evaluation,
        or another person) or its rule is gone.
    """
    current = await rule(conn, int(alert_row["rule_id"]))
    if current is None or alert_row["state"] == engine.RESOLVED:
        return None
    reading = await measure(conn, current["kind"], current["params"], now)
    if current["enabled"] and reading.value >= float(current["open_at"]):
        raise StillAbove(reading.value, float(current["open_at"]))
    return await engine.resolve(conn, current, reading.value, why, now, enqueue)
