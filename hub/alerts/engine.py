"""Evaluation: read each enabled rule's value and move its alert, sending messages only
on transitions.

Every move is one conditional statement that only one hub process can win, so any number
of processes may evaluate the same rules at once and each message is queued once:

* open — ``INSERT … ON CONFLICT (open_key) DO NOTHING``: ``open_key`` is the rule's id
  while an alert of it is unresolved, and unique;
* remind — ``UPDATE … WHERE state = 'open' AND last_notified_at = <the time read>``;
* resolve — ``UPDATE … WHERE open_key = rule AND state <> 'resolved'``.

The messages are queued in the same transaction as the move (outbox calls with the dedupe
key ``alert:<id>:<transition>[:n]:<destination>``), so a committed move always has its
messages and a rolled-back one none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.alerts import rules as rule_store
from hub.alerts.measures import ALERT_PARTNER_PREFIX, measure
from hub.contracts import PartnerCall
from hub.sdk.alerts import AlertMessage
from hub.storage.alert_tables import AlertRow

ALERTS = AlertRow.__table__
A = ALERTS.c
OPEN, ACKED, RESOLVED = "open", "acknowledged", "resolved"
STATES = (OPEN, ACKED, RESOLVED)

Enqueue = Callable[[AsyncConnection, Sequence[PartnerCall]], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Move:
    """A transition this process won (what evaluation reports, for logs and tests)."""

    rule: str
    alert_id: int
    transition: str
    value: float


def partner_of(destination: str) -> str:
    return f"{ALERT_PARTNER_PREFIX}{destination}"


def _calls(rule: Mapping[str, Any], msg: AlertMessage) -> list[PartnerCall]:
    step = msg.transition + (f":{msg.reminder}" if msg.transition == "reminder" else "")
    return [
        PartnerCall(
            partner=partner_of(dest),
            kind=f"alert.{msg.transition}",
            dedupe_key=f"alert:{msg.alert_id}:{step}:{dest}",
            payload=msg.payload(),
        )
        for dest in rule["destinations"]
    ]


def _message(
    rule: Mapping[str, Any],
    alert_id: int,
    transition: str,
    value: float,
    detail: str,
    at: datetime,
    reminder: int = 0,
) -> AlertMessage:
    return AlertMessage(
        alert_id=alert_id,
        transition=transition,
        rule=rule["name"],
        kind=rule["kind"],
        value=value,
        open_at=float(rule["open_at"]),
        clear_below=float(rule["clear_below"]),
        detail=detail,
        at=at,
        reminder=reminder,
    )


async def evaluate_rule(
    conn: AsyncConnection, rule: Mapping[str, Any], now: datetime, enqueue: Enqueue
) -> Move | None:
    """One rule in the caller's transaction: at most one move, with its messages."""
    reading = await measure(conn, rule["kind"], rule["params"], now)
    value = reading.value
    current = (await conn.execute(select(ALERTS).where(A.open_key == rule["id"]))).first()
    if current is None:
        if value < rule["open_at"]:
            return None
        return await _open(conn, rule, value, reading.detail, now, enqueue)
    if value < rule["clear_below"]:
        return await resolve(conn, rule, value, reading.detail, now, enqueue)
    if current.state == OPEN and now - current.last_notified_at >= timedelta(
        seconds=rule["remind_seconds"]
    ):
        n = (
            await conn.execute(
                update(ALERTS)
                .where(
                    A.id == current.id,
                    A.state == OPEN,
                    A.last_notified_at == current.last_notified_at,
                )
                .values(last_notified_at=now, reminders=A.reminders + 1, value=value)
                .returning(A.reminders)
            )
        ).scalar()
        if n is None:
            return None  # another process reminded (or someone acknowledged) first
        msg = _message(rule, current.id, "reminder", value, reading.detail, now, n)
        await enqueue(conn, _calls(rule, msg))
        return Move(rule["name"], current.id, "reminder", value)
    return None


async def _open(
    conn: AsyncConnection,
    rule: Mapping[str, Any],
    value: float,
    detail: str,
    now: datetime,
    enqueue: Enqueue,
) -> Move | None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(ALERTS)
        .values(
            rule_id=rule["id"],
            rule_name=rule["name"],
            kind=rule["kind"],
            open_key=rule["id"],
            state=OPEN,
            value=value,
            detail=detail[:500],
            opened_at=now,
            last_notified_at=now,
            reminders=0,
        )
        .on_conflict_do_nothing(index_elements=[A.open_key])
        .returning(A.id)
    )
    alert_id = (await conn.execute(stmt)).scalar()
    if alert_id is None:
        return None  # another process opened it
    await enqueue(conn, _calls(rule, _message(rule, alert_id, "opened", value, detail, now)))
    return Move(rule["name"], alert_id, "opened", value)


async def resolve(
    conn: AsyncConnection,
    rule: Mapping[str, Any],
    value: float,
    detail: str,
    now: datetime,
    enqueue: Enqueue,
) -> Move | None:
    """Resolve the rule's unresolved alert (cleared, or the rule was deleted)."""
    alert_id = (
        await conn.execute(
            update(ALERTS)
            .where(A.open_key == rule["id"], A.state != RESOLVED)
            .values(state=RESOLVED, open_key=None, resolved_at=now, value=value)
            .returning(A.id)
        )
    ).scalar()
    if alert_id is None:
        return None
    await enqueue(conn, _calls(rule, _message(rule, alert_id, "resolved", value, detail, now)))
    return Move(rule["name"], alert_id, "resolved", value)


async def evaluate(engine: AsyncEngine, now: datetime, enqueue: Enqueue) -> list[Move]:
    """Every enabled rule, each in its own short transaction (one slow or failing rule
    does not hold the others' moves)."""
    async with engine.connect() as conn:
        rules = await rule_store.listing(conn, enabled_only=True)
    moves: list[Move] = []
    for rule in rules:
        async with engine.begin() as conn:
            move = await evaluate_rule(conn, rule, now, enqueue)
        if move is not None:
            moves.append(move)
    return moves


class BadMove(Exception):
    pass


async def acknowledge(
    conn: AsyncConnection, alert_id: int, *, by: str, note: str, now: datetime
) -> dict[str, Any] | None:
    """A person saw the alert: reminders stop; it still resolves by itself when the
    value clears. None when there is no such alert; `BadMove` when it is not open."""
    row = (
        await conn.execute(
            update(ALERTS)
            .where(A.id == alert_id, A.state == OPEN)
            .values(state=ACKED, acked_by=by, ack_note=note, acked_at=now)
            .returning(*A)
        )
    ).first()
    if row is not None:
        return as_dict(row)
    existing = (await conn.execute(select(A.state).where(A.id == alert_id))).scalar()
    if existing is None:
        return None
    raise BadMove(f"alert {alert_id} is {existing}, not open")


def as_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d.pop("open_key", None)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = v.isoformat()
    return d


async def listing(
    conn: AsyncConnection, *, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise BadMove(f"state is one of {', '.join(STATES)}")
    stmt = select(ALERTS).order_by(A.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(A.state == state)
    return [as_dict(r) for r in (await conn.execute(stmt)).all()]
