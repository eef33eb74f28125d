"""Device and bridge health as the bridges report it, kept for staff and the alert rules.

Every sync round and every heartbeat of a bridge carries its health: its clock (the hub
measures the skew from it), the hub URL it syncs through, the decisions it has not
uploaded yet, and each device — online, last seen, event lag, the list version pushed to
it, last error. A bridge heartbeats every couple of seconds, so a write per report would
cost the order path on SQLite (one writer): a process writes a venue's report when it
differs from the last one it wrote in what staff act on (a device going offline or
back, a new list version, an error, another link, a skew off by another second) and
otherwise at most every ``EVERY_SECONDS``. A device going offline therefore shows at the
hub with the very next report.

`overview` and `devices` are what the admin API and the console's wall/devices page read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.storage.db import reader
from hub.storage.health_tables import DeviceHealthRow
from hub.storage.tables import BridgeSeenRow

SEEN = BridgeSeenRow.__table__
DEVICES = DeviceHealthRow.__table__
S, D = SEEN.c, DEVICES.c
EVERY_SECONDS = 5.0
MAX_DEVICES = 1000


class DeviceHealthIn(BaseModel):
    """One device as the bridge sees it."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    vendor: str = Field(default="", max_length=32)
    gate: str = Field(default="", max_length=64)
    online: bool | None = Field(default=None, description="None: the bridge cannot tell")
    last_seen: datetime | None = None
    event_lag_s: float | None = Field(default=None, ge=-1e9, le=1e9)
    list_version: str = Field(default="", max_length=64)
    last_error: str = Field(default="", max_length=500)

    @field_validator("last_error", "list_version", "gate", "vendor", mode="before")
    @classmethod
    def _shorten(cls, value: Any, info: ValidationInfo) -> Any:
        """A long text (a driver's error) is cut, not refused: a refused heartbeat would
        make the bridge believe the hub refuses it."""
        limit = {"last_error": 500, "vendor": 32}.get(str(info.field_name), 64)
        return value[:limit] if isinstance(value, str) else value


class HeartbeatIn(BaseModel):
    """A bridge's heartbeat: who, its clock (so the answer can carry the skew) and, from
    bridges that report health, its link, backlog and devices (``devices`` absent: an
    older bridge that reports none — its devices stay as they were)."""

    model_config = ConfigDict(extra="ignore")

    bridge: str = Field(default="", max_length=24)
    at: datetime | None = None
    link: str = Field(default="", max_length=300)
    link_index: int | None = Field(default=None, ge=0, le=1000)
    pending_uploads: int | None = Field(default=None, ge=0, le=2_147_483_647)
    devices: list[dict[str, Any]] | None = Field(
        default=None, description="each as `DeviceHealthIn`; read one by one (`health`)"
    )

    @field_validator("link", mode="before")
    @classmethod
    def _link(cls, value: Any) -> Any:
        return value[:300] if isinstance(value, str) else value

    def skew(self, now: datetime) -> float | None:
        """Hub clock − bridge clock in seconds (None without an aware ``at``)."""
        if self.at is None or self.at.tzinfo is None:
            return None
        return round((now - self.at).total_seconds(), 3)

    def reports_health(self) -> bool:
        return self.devices is not None or bool(self.link)

    def health(self) -> list[DeviceHealthIn] | None:
        """The devices, each read on its own and leniently: a field the hub cannot read
        is dropped (and said in ``last_error``), a device without a usable id is left
        out. A report must never make the heartbeat fail: a refused heartbeat would make
        the bridge believe the hub refuses it."""
        if self.devices is None:
            return None
        out: dict[str, DeviceHealthIn] = {}
        for raw in self.devices[:MAX_DEVICES]:
            device = _lenient(raw)
            if device is not None:
                out[device.id] = device
        return list(out.values())


def _lenient(raw: dict[str, Any]) -> DeviceHealthIn | None:
    try:
        return DeviceHealthIn.model_validate(raw)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    if "id" in bad:
        return None
    kept = {k: v for k, v in raw.items() if k not in bad}
    kept["last_error"] = f"unreadable in the report: {', '.join(sorted(bad))}"
    try:
        return DeviceHealthIn.model_validate(kept)
    except ValidationError:
        return None


def _signature(
    body: HeartbeatIn, devices: list[DeviceHealthIn] | None, skew: float | None
) -> tuple[Any, ...]:
    """What staff act on: a change of any of it is written at once."""
    shown = tuple(
        (d.id, d.vendor, d.gate, d.online, d.list_version, d.last_error) for d in devices or ()
    )
    return (
        body.bridge,
        body.link,
        body.link_index,
        None if skew is None else round(skew),
        devices is None,
        shown,
    )


class BridgeHealth:
    """This process's writer of the reports (``bridge_seen`` and ``device_health``)."""

    def __init__(self, engine: AsyncEngine, every_seconds: float = EVERY_SECONDS) -> None:
        self.engine = engine
        self.every = timedelta(seconds=every_seconds)
        self._written: dict[str, tuple[datetime, tuple[Any, ...]]] = {}

    async def report(self, venue_id: str, body: HeartbeatIn, now: datetime) -> bool:
        """Store a report (True) unless it says nothing new and the last write of this
        venue is younger than ``EVERY_SECONDS`` (False)."""
        skew = body.skew(now)
        devices = body.health()
        sig = _signature(body, devices, skew)
        last = self._written.get(venue_id)
        if last is not None and last[1] == sig and now - last[0] < self.every:
            return False
        async with self.engine.begin() as conn:
            await _write(conn, venue_id, body, devices, skew, now)
        self._written[venue_id] = (now, sig)
        return True


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def _write(
    conn: AsyncConnection,
    venue_id: str,
    body: HeartbeatIn,
    devices: list[DeviceHealthIn] | None,
    skew: float | None,
    now: datetime,
) -> None:
    insert = _insert(conn)
    seen: dict[str, Any] = {"last_seen_at": now, "reported_at": now, "bridge_id": body.bridge}
    if skew is not None:
        seen["clock_skew_s"] = skew
    if body.reports_health():
        seen |= {
            "link": body.link,
            "link_index": body.link_index,
            "pending_uploads": body.pending_uploads,
        }
    stmt = insert(SEEN).values(venue_id=venue_id, **seen)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[S.venue_id],
            set_={k: getattr(stmt.excluded, k) for k in seen},
            where=S.last_seen_at <= stmt.excluded.last_seen_at,
        )
    )
    if devices is None:
        return
    reported = [d.id for d in devices]
    await conn.execute(
        delete(DEVICES).where(D.venue_id == venue_id, D.device_id.not_in(reported))
        if reported
        else delete(DEVICES).where(D.venue_id == venue_id)
    )
    for d in devices:
        values = {
            "venue_id": venue_id,
            "device_id": d.id,
            "bridge_id": body.bridge,
            "vendor": d.vendor,
            "gate": d.gate,
            "online": d.online,
            "last_seen_at": d.last_seen if d.last_seen and d.last_seen.tzinfo else None,
            "event_lag_s": d.event_lag_s,
            "list_version": d.list_version,
            "last_error": d.last_error,
            "reported_at": now,
            "offline_since": now if d.online is False else None,
        }
        stmt = insert(DEVICES).values(values)
        ex = stmt.excluded
        update = {k: getattr(ex, k) for k in values if k not in ("venue_id", "device_id")}
        # offline since the FIRST report that said so, for as long as it stays offline
        update["offline_since"] = case(
            (ex.online.is_(False), func.coalesce(D.offline_since, ex.offline_since)),
            else_=None,
        )
        await conn.execute(
            stmt.on_conflict_do_update(index_elements=[D.venue_id, D.device_id], set_=update)
        )


# -- reading -------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _device(row: Any, now: datetime) -> dict[str, Any]:
    since = row.offline_since
    return {
        "venue_id": row.venue_id,
        "id": row.device_id,
        "bridge": row.bridge_id,
        "vendor": row.vendor,
        "gate": row.gate,
        "online": row.online,
        "last_seen": _iso(row.last_seen_at),
        "event_lag_s": row.event_lag_s,
        "list_version": row.list_version,
        "last_error": row.last_error,
        "reported_at": _iso(row.reported_at),
        "offline_since": _iso(since),
        "offline_s": max(0, int((now - since).total_seconds())) if since else None,
    }


async def devices(conn: AsyncConnection, now: datetime, venue_id: str = "") -> list[dict[str, Any]]:
    """Every reported device (of one venue when ``venue_id``), by venue, gate and id."""
    stmt = select(DEVICES).order_by(D.venue_id, D.gate, D.device_id)
    if venue_id:
        stmt = stmt.where(D.venue_id == venue_id)
    return [_device(r, now) for r in (await conn.execute(stmt)).all()]


async def overview(engine: AsyncEngine, now: datetime, venue_id: str = "") -> list[dict[str, Any]]:
    """Each bridge (one per venue) with when it was last heard from, its clock skew, the
    link it syncs through, its backlog and its devices — the console's devices page and
    the wall read this (a few rows per venue: no scan of anything large)."""
    stmt = select(SEEN).order_by(S.venue_id)
    if venue_id:
        stmt = stmt.where(S.venue_id == venue_id)
    async with reader(engine).connect() as conn:
        bridges = (await conn.execute(stmt)).all()
        all_devices = await devices(conn, now, venue_id)
    by_venue: dict[str, list[dict[str, Any]]] = {}
    for d in all_devices:
        by_venue.setdefault(d["venue_id"], []).append(d)
    return [_bridge(b, now, by_venue.get(b.venue_id, [])) for b in bridges]


def _bridge(row: Any, now: datetime, devs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "venue_id": row.venue_id,
        "bridge": row.bridge_id,
        "last_seen": _iso(row.last_seen_at),
        "quiet_s": max(0, int((now - row.last_seen_at).total_seconds())),
        "reported_at": _iso(row.reported_at),
        "clock_skew_s": row.clock_skew_s,
        "link": row.link,
        "link_index": row.link_index,
        "on_backup_link": bool(row.link_index),
        "pending_uploads": row.pending_uploads,
        "devices": list(devs),
        "devices_offline": sum(1 for d in devs if d["online"] is False),
    }
