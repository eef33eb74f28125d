"""One venue's flow wall as one JSON-ready dict, read from counters only.

`build` is a plain function over a connection, so the admin API (`GET /api/admin/wall`),
the live stream (`hub.wall.stream`) and the console's page all show the same figures.
Every figure comes from a counter row the writes keep (`hub.wall.counters`,
`hub.outbox.counts`, ``flow_count``) or from small tables (open alerts, bridges, devices):
a refresh costs the same at 10 orders or 10 million.

`version` is the cheap check behind the stream: a handful of primary-key reads whose
result changes whenever a figure of the wall changes (in any hub process), without
reading the per-gate buckets.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.outbox.counts import COUNT
from hub.storage.alert_tables import AlertRow, AlertRuleRow
from hub.storage.tables import (
    METADATA,
    BridgeSeenRow,
    FlowCountRow,
    VenueRow,
)
from hub.wall.counters import BUCKET_MINUTES, GATE, SALES, SALES_FIELDS, SLOT

VENUE = VenueRow.__table__.c
FLOW = FlowCountRow.__table__.c
ALERT = AlertRow.__table__.c
RULE = AlertRuleRow.__table__.c
SEEN = BridgeSeenRow.__table__.c
#: A bridge not heard from for this long shows offline (bridges call every few seconds;
#: `hub.alerts.bridges` writes its time at most every 5 s per process).
OFFLINE_AFTER_SECONDS = 60
UNRESOLVED = ("open", "acknowledged")


class DeviceSource(Protocol):
    """Where the wall reads a venue's devices (online, last seen, event lag, list
    version) — the seam for the per-device health bridges report."""

    async def __call__(self, conn: AsyncConnection, venue_id: str) -> list[dict[str, Any]]: ...


async def device_rows(conn: AsyncConnection, venue_id: str) -> list[dict[str, Any]]:
    """The venue's rows of the ``device_health`` table when the schema has one (each
    column as stored, times in ISO 8601), else none."""
    table: Table | None = METADATA.tables.get("device_health")
    if table is None or "venue_id" not in table.c:
        return []
    rows = (await conn.execute(select(table).where(table.c.venue_id == venue_id))).mappings()
    return [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()}
        for r in rows.all()
    ]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


async def venue_day(conn: AsyncConnection, venue_id: str, now: datetime) -> tuple[Any, date] | None:
    row = (
        await conn.execute(
            select(VENUE.id, VENUE.name, VENUE.timezone, VENUE.max_in_park).where(
                VENUE.id == venue_id
            )
        )
    ).first()
    if row is None:
        return None
    return row, now.astimezone(zone(row.timezone)).date()


def _scalar(column: Any, table: Any, *where: Any) -> Any:
    return select(column).select_from(table).where(*where).scalar_subquery()


@functools.cache
def version_statement() -> Select[Any]:
    """The statement behind `version`, built once: venue and day are bound parameters
    (``wall_venue``, ``wall_day``). Building its twenty subqueries took ≈ 1.7 ms of CPU —
    most of what the wall's builder spent, twice a second, under intake."""
    venue_id, day = bindparam("wall_venue"), bindparam("wall_day")
    flow = (FlowCountRow.__table__, FLOW.venue_id == venue_id, FLOW.day == day)
    sales = (SALES, SALES.c.venue_id == venue_id, SALES.c.day == day)
    slots = (SLOT, SLOT.c.venue_id == venue_id, SLOT.c.day == day)
    alerts = (AlertRow.__table__, ALERT.state.in_(UNRESOLVED))
    return select(
        VENUE.name,
        VENUE.timezone,
        VENUE.max_in_park,
        *(_scalar(FLOW[f], *flow) for f in ("entries", "exits", "denied", "conflicts")),
        *(_scalar(func.sum(SALES.c[f]), *sales) for f in SALES_FIELDS),
        _scalar(func.sum(SLOT.c.sold), *slots),
        _scalar(func.sum(SLOT.c.arrived), *slots),
        _scalar(func.count(), *alerts),
        _scalar(func.count(ALERT.acked_at), *alerts),
        _scalar(func.max(ALERT.id), *alerts),
        _scalar(func.max(RULE.updated_at), AlertRuleRow.__table__),
        *(
            _scalar(func.sum(COUNT.c.n), COUNT, COUNT.c.state == state)
            for state in ("pending", "inflight", "dead")
        ),
        _scalar(SEEN.last_seen_at, BridgeSeenRow.__table__, SEEN.venue_id == venue_id),
    ).where(VENUE.id == venue_id)


async def version(conn: AsyncConnection, venue_id: str, day: date) -> tuple[Any, ...] | None:
    """Changes whenever a figure of the venue's wall for ``day`` changes (None: no such
    venue): one statement of primary-key reads and small sums, no per-gate buckets."""
    params = {"wall_venue": venue_id, "wall_day": day}
    row = (await conn.execute(version_statement(), params)).first()
    return tuple(row) if row is not None else None


async def _maximum(conn: AsyncConnection, venue: Any) -> int | None:
    """The venue's own maximum, else the one its in-park alert rule carries."""
    if venue.max_in_park:
        return int(venue.max_in_park)
    rows = await conn.execute(
        select(RULE.params).where(RULE.kind == "in_park_percent", RULE.enabled.is_(True))
    )
    found = [
        int(p["maximum"])
        for (p,) in rows.all()
        if isinstance(p, dict) and p.get("venue_id") == venue.id and p.get("maximum")
    ]
    return min(found) if found else None


async def build(
    conn: AsyncConnection,
    venue_id: str,
    now: datetime,
    *,
    devices: DeviceSource = device_rows,
) -> dict[str, Any] | None:
    """The venue's wall now (None: no such venue)."""
    found = await venue_day(conn, venue_id, now)
    if found is None:
        return None
    venue, day = found
    tz = zone(venue.timezone)
    flow = (
        await conn.execute(
            select(FLOW.entries, FLOW.exits, FLOW.denied, FLOW.conflicts).where(
                FLOW.venue_id == venue_id, FLOW.day == day
            )
        )
    ).first()
    entries, exits, denied, conflicts = (int(x) for x in flow) if flow else (0, 0, 0, 0)
    in_park = max(0, entries - exits)
    maximum = await _maximum(conn, venue)

    gate_rows = (
        await conn.execute(
            select(GATE.c.minute, GATE.c.gate, GATE.c.entries, GATE.c.exits)
            .where(GATE.c.venue_id == venue_id, GATE.c.day == day)
            .order_by(GATE.c.gate, GATE.c.minute)
        )
    ).all()
    gates: dict[str, dict[str, Any]] = {}
    per_bucket: dict[int, int] = defaultdict(int)
    for minute, gate, e, x in gate_rows:
        g = gates.setdefault(gate, {"gate": gate, "entries": 0, "exits": 0, "buckets": []})
        g["entries"] += e
        g["exits"] += x
        g["buckets"].append({"minute": minute, "time": _hhmm(minute), "entries": e, "exits": x})
        per_bucket[minute] += e - x
    local_now = now.astimezone(tz)
    last = local_now.hour * 60 + local_now.minute
    last -= last % BUCKET_MINUTES
    curve: list[dict[str, Any]] = []
    if per_bucket:
        level = 0
        for minute in range(min(per_bucket), max(last, max(per_bucket)) + 1, BUCKET_MINUTES):
            level += per_bucket.get(minute, 0)
            curve.append({"minute": minute, "time": _hhmm(minute), "in_park": max(0, level)})

    slot_rows = (
        await conn.execute(
            select(SLOT.c.slot, SLOT.c.sold, SLOT.c.arrived)
            .where(SLOT.c.venue_id == venue_id, SLOT.c.day == day)
            .order_by(SLOT.c.slot)
        )
    ).all()
    slots = [
        {"slot": s, "sold": sold, "arrived": arrived, "not_arrived": max(0, sold - arrived)}
        for s, sold, arrived in slot_rows
        if sold or arrived
    ]
    sales_rows = (
        await conn.execute(
            select(SALES.c.channel, *(SALES.c[f] for f in SALES_FIELDS))
            .where(SALES.c.venue_id == venue_id, SALES.c.day == day)
            .order_by(SALES.c.channel)
        )
    ).all()
    sales = [
        {"channel": r[0], **{f: int(v) for f, v in zip(SALES_FIELDS, r[1:], strict=True)}}
        for r in sales_rows
    ]
    totals = {f: sum(s[f] for s in sales) for f in SALES_FIELDS}

    by_partner: dict[str, dict[str, int]] = {}
    for partner, state, n in (
        await conn.execute(select(COUNT.c.partner, COUNT.c.state, COUNT.c.n))
    ).all():
        if n:
            by_partner.setdefault(partner, {})[state] = int(n)
    outbox = {
        s: sum(p.get(s, 0) for p in by_partner.values()) for s in ("pending", "inflight", "dead")
    }

    alert_rows = (
        await conn.execute(
            select(
                ALERT.id,
                ALERT.rule_name,
                ALERT.kind,
                ALERT.state,
                ALERT.value,
                ALERT.detail,
                ALERT.opened_at,
                ALERT.acked_by,
            )
            .where(ALERT.state.in_(UNRESOLVED))
            .order_by(ALERT.opened_at.desc(), ALERT.id.desc())
        )
    ).all()
    alerts = [
        {
            "id": a.id,
            "rule": a.rule_name,
            "kind": a.kind,
            "state": a.state,
            "value": a.value,
            "detail": a.detail,
            "opened_at": a.opened_at.isoformat(),
            "acked_by": a.acked_by,
        }
        for a in alert_rows
    ]

    seen = (await conn.execute(select(SEEN.last_seen_at).where(SEEN.venue_id == venue_id))).scalar()
    bridges = []
    if seen is not None:
        quiet = max(0.0, (now - seen).total_seconds())
        bridges.append(
            {
                "venue_id": venue_id,
                "last_seen_at": seen.isoformat(),
                "seconds_since": round(quiet, 1),
                "online": quiet < OFFLINE_AFTER_SECONDS,
            }
        )

    return {
        "venue": {"id": venue.id, "name": venue.name, "timezone": venue.timezone},
        "day": day.isoformat(),
        "at": now.isoformat(),
        "in_park": {
            "now": in_park,
            "maximum": maximum,
            "percent": round(100.0 * in_park / maximum, 1) if maximum else None,
            "entries": entries,
            "exits": exits,
            "denied": denied,
        },
        "curve": curve,
        "bucket_minutes": BUCKET_MINUTES,
        "gates": sorted(gates.values(), key=lambda g: g["gate"]),
        "slots": slots,
        "sales": {"channels": sales, "totals": totals},
        "outbox": {**outbox, "by_partner": by_partner},
        "conflicts": conflicts,
        "alerts": {
            "open": sum(1 for a in alerts if a["state"] == "open"),
            "acknowledged": sum(1 for a in alerts if a["state"] == "acknowledged"),
            "items": alerts,
        },
        "bridges": bridges,
        "devices": await devices(conn, venue_id),
    }
