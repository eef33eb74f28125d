"""What the reconciliation pages do besides reading: a discrepancy acknowledged or resolved
with its audit line in the move's own transaction, and the audit lines of statement
imports. The work itself is `hub.reconcile` (the CLI's and the admin API's code)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.loader import load_all
from hub.channels.spec import ChannelSpec
from hub.console.audit import record
from hub.reconcile import store
from hub.reconcile.service import CHANNELS

MOVES = {"ack": "acknowledged", "resolve": "resolved"}


async def move(
    conn: AsyncConnection,
    disc_id: int,
    verb: str,
    *,
    actor: str,
    note: str,
    now: datetime,
    remote: str,
) -> dict[str, Any]:
    """Acknowledge or resolve one discrepancy and audit it (before -> after).

    :raises store.NotFound: no such discrepancy.
    :raises store.BadMove: its state does not allow the move (someone was first).
    """
    before = (
        await conn.execute(select(store.DISC.c.state).where(store.DISC.c.id == disc_id))
    ).scalar()
    if before is None:
        raise store.NotFound(f"no discrepancy {disc_id}")
    row = await store.move_in(conn, disc_id, MOVES[verb], by=actor, note=note, now=now)
    await record(
        conn,
        now,
        actor=actor,
        action=f"discrepancy.{verb}",
        target=f"discrepancy:{disc_id}",
        before={"state": before, "channel": row["channel"], "ref": row["ref"]},
        after={"state": row["state"], "note": note},
        remote=remote,
    )
    return row


async def audit_import(
    conn: AsyncConnection,
    now: datetime,
    *,
    actor: str,
    action: str,
    channel: str,
    day: date,
    outcome: dict[str, Any],
    remote: str,
) -> None:
    """The audit line of a statement fetched or uploaded from the console (the import
    itself is one transaction of `hub.reconcile.store`; this line follows it)."""
    await record(
        conn,
        now,
        actor=actor,
        action=action,
        target=f"statement:{channel}:{day.isoformat()}",
        before=None,
        after=outcome,
        remote=remote,
    )


def importable(adapters: Iterable[Any], dirs: Iterable[str]) -> list[str]:
    """Channels whose statements can be imported: WeChat (read by code) and every channel
    whose spec declares ``[settlement]`` (a plugin's spec or a spec-only channel's)."""
    found = list(adapters)
    names = {n for n in CHANNELS if any(getattr(a, "name", None) == n for a in found)}
    specs = [a.spec for a in found if isinstance(getattr(a, "spec", None), ChannelSpec)]
    for folder in dirs:
        specs.extend(load_all(folder).values())
    names |= {s.channel.name for s in specs if s.settlement is not None}
    return sorted(names)
