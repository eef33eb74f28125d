"""The rule kinds: each reads one number from data the hub already keeps.

* ``in_park_percent``: in-park now (today's flow counters, entries - exits, the venue's
  own day) as a percentage of ``params.maximum`` (the venue's safe maximum; the hub keeps
  no venue-level maximum yet, so the rule carries it).
* ``dead_letters``: partner calls in the outbox's dead letters (alert messages excluded:
  an alert about undeliverable alerts could not be delivered either), optionally of one
  ``params.partner``.
* ``bridge_offline``: seconds since the bridge of ``params.venue_id`` last called the hub
  (0 while it has never called: a venue not yet onboarded is not offline).
* ``double_use``: admitted entries of ``params.venue_id`` that could not count (a ticket
  used twice across offline bridges, or after a refund) received in the last
  ``params.window_seconds``.
* ``reconcile_discrepancies``: open discrepancies (neither acknowledged nor resolved)
  that reconciliation found on the statements of the last ``params.days`` days (default
  2: yesterday's bill and the day before), optionally of one ``params.channel``. The daily
  job has the rules evaluated right after each import; acknowledging the discrepancies
  clears the alert.

* ``device_offline``: the longest any device of ``params.venue_id`` (or only
  ``params.device_id``) has been reported offline by its bridge, in seconds, counted on
  the hub's clock from the first report that said so (`hub.alerts.health`).
* ``bridge_clock_skew``: how far the clock of the bridge of ``params.venue_id`` is off
  the hub's, in seconds either way, measured from its last heartbeat's timestamp.
* ``payment_failures``: failed payment-provider calls (of ``params.provider``, or all)
  recorded in the last ``params.window_seconds`` (`hub.alerts.payments`).
* ``slot_arrival_rate``: admitted entries per minute, over the last
  ``params.window_seconds``, of today's tickets of time slot ``params.slot`` at
  ``params.venue_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.health_tables import DeviceHealthRow, PaymentFailureRow
from hub.storage.reconcile_tables import DiscrepancyRow
from hub.storage.tables import (
    BridgeSeenRow,
    FlowCountRow,
    OrderRow,
    OutboxRow,
    RedemptionRow,
    TicketRow,
    VenueRow,
)

FLOW = FlowCountRow.__table__.c
VENUE = VenueRow.__table__.c
OUTBOX = OutboxRow.__table__.c
REDEMPTION = RedemptionRow.__table__.c
SEEN = BridgeSeenRow.__table__.c
DEVICE = DeviceHealthRow.__table__.c
PAYMENT = PaymentFailureRow.__table__.c
TICKET = TicketRow.__table__.c
ORDER = OrderRow.__table__.c
DISC = DiscrepancyRow.__table__.c
ALERT_PARTNER_PREFIX = "alert:"


@dataclass(frozen=True, slots=True)
class Reading:
    value: float
    detail: str


Measure = Callable[[AsyncConnection, Mapping[str, Any], datetime], Awaitable[Reading]]


class BadParams(ValueError):
    """A rule's parameters do not fit its kind."""


async def in_park_percent(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    venue_id, maximum = str(p["venue_id"]), int(p["maximum"])
    zone = (await conn.execute(select(VENUE.timezone).where(VENUE.id == venue_id))).scalar()
    if zone is None:
        return Reading(0.0, f"venue {venue_id} unknown")
    today = now.astimezone(ZoneInfo(zone)).date()
    row = (
        await conn.execute(
            select(FLOW.entries, FLOW.exits).where(FLOW.venue_id == venue_id, FLOW.day == today)
        )
    ).first()
    inside = max(0, int(row.entries) - int(row.exits)) if row else 0
    percent = round(100.0 * inside / maximum, 2)
    return Reading(percent, f"园内 {inside} / {maximum} 人 ({percent:g} %) · {venue_id}")


async def dead_letters(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    where = [OUTBOX.state == "dead", ~OUTBOX.partner.startswith(ALERT_PARTNER_PREFIX)]
    if p.get("partner"):
        where.append(OUTBOX.partner == str(p["partner"]))
    n = (await conn.execute(select(func.count()).where(and_(*where)))).scalar() or 0
    scope = f" ({p['partner']})" if p.get("partner") else ""
    return Reading(float(n), f"死信 {n} 条{scope} · dead-lettered partner calls")


async def double_use(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    since = now - timedelta(seconds=int(p.get("window_seconds", 3600)))
    n = (
        await conn.execute(
            select(func.count()).where(
                REDEMPTION.venue_id == str(p["venue_id"]),
                REDEMPTION.conflict != "",
                REDEMPTION.received_at >= since,
            )
        )
    ).scalar() or 0
    return Reading(float(n), f"重复使用 {n} 次 · double use at {p['venue_id']}")


async def bridge_offline(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    venue_id = str(p["venue_id"])
    stmt = select(SEEN.last_seen_at).where(SEEN.venue_id == venue_id)
    seen = (await conn.execute(stmt)).scalar()
    if seen is None:
        return Reading(0.0, f"网关未连接过 · bridge of {venue_id} never synced")
    quiet = max(0, int((now - seen).total_seconds()))
    return Reading(
        float(quiet), f"网关 {quiet} 秒未同步 · bridge of {venue_id} last seen {seen.isoformat()}"
    )


async def device_offline(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    venue_id = str(p["venue_id"])
    where = [DEVICE.venue_id == venue_id, DEVICE.online.is_(False)]
    if p.get("device_id"):
        where.append(DEVICE.device_id == str(p["device_id"]))
    stmt = select(DEVICE.device_id, DEVICE.gate, DEVICE.offline_since).where(*where)
    rows = [r for r in (await conn.execute(stmt)).all() if r.offline_since is not None]
    if not rows:
        return Reading(0.0, f"设备均在线 · no device of {venue_id} reported offline")
    quiet = {r.device_id: max(0, int((now - r.offline_since).total_seconds())) for r in rows}
    longest = max(quiet.values())
    names = ", ".join(f"{d} ({s} s)" for d, s in sorted(quiet.items(), key=lambda x: -x[1])[:10])
    return Reading(float(longest), f"设备离线 {len(rows)} 台 · offline at {venue_id}: {names}")


async def bridge_clock_skew(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    venue_id = str(p["venue_id"])
    stmt = select(SEEN.clock_skew_s, SEEN.reported_at).where(SEEN.venue_id == venue_id)
    row = (await conn.execute(stmt)).first()
    if row is None or row.clock_skew_s is None:
        return Reading(0.0, f"网关时钟未知 · no heartbeat time from the bridge of {venue_id}")
    skew = float(row.clock_skew_s)
    way = "behind" if skew > 0 else "ahead of"
    return Reading(
        round(abs(skew), 3),
        f"网关时钟偏差 {abs(skew):g} 秒 · bridge of {venue_id} is {abs(skew):g} s {way} the hub",
    )


async def payment_failures(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    window = int(p.get("window_seconds", 300))
    where = [PAYMENT.at >= now - timedelta(seconds=window)]
    if p.get("provider"):
        where.append(PAYMENT.provider == str(p["provider"]))
    n = (await conn.execute(select(func.count()).where(*where))).scalar() or 0
    scope = f" ({p['provider']})" if p.get("provider") else ""
    return Reading(float(n), f"支付失败 {n} 次{scope} · payment failures in the last {window} s")


async def slot_arrival_rate(conn: AsyncConnection, p: Mapping[str, Any], now: datetime) -> Reading:
    venue_id, slot = str(p["venue_id"]), str(p["slot"])
    window = int(p.get("window_seconds", 300))
    zone = (await conn.execute(select(VENUE.timezone).where(VENUE.id == venue_id))).scalar()
    if zone is None:
        return Reading(0.0, f"venue {venue_id} unknown")
    today = now.astimezone(ZoneInfo(zone)).date()
    stmt = (
        select(func.count())
        .select_from(
            RedemptionRow.__table__.join(
                TicketRow.__table__, TICKET.id == REDEMPTION.ticket_id
            ).join(OrderRow.__table__, ORDER.id == TICKET.order_id)
        )
        .where(
            REDEMPTION.venue_id == venue_id,
            REDEMPTION.at >= now - timedelta(seconds=window),
            REDEMPTION.accepted.is_(True),
            REDEMPTION.direction == "in",
            ORDER.slot == slot,
            ORDER.travel_date == today,
        )
    )
    n = (await conn.execute(stmt)).scalar() or 0
    per_minute = round(n * 60.0 / window, 2)
    return Reading(
        per_minute,
        f"时段 {slot} 入园 {per_minute:g} 人/分钟 · {n} arrivals in {window} s at {venue_id}",
    )


async def reconcile_discrepancies(
    conn: AsyncConnection, p: Mapping[str, Any], now: datetime
) -> Reading:
    days = int(p.get("days", 2))
    since = now.date() - timedelta(days=days)
    where = [DISC.state == "open", DISC.day >= since]
    if p.get("channel"):
        where.append(DISC.channel == str(p["channel"]))
    n = (await conn.execute(select(func.count()).where(and_(*where)))).scalar() or 0
    scope = f"{p['channel']} " if p.get("channel") else ""
    return Reading(float(n), f"对账差异 {n} 条待处理 · {scope}open discrepancies, last {days} days")


def _check_reconcile(p: Mapping[str, Any]) -> None:
    if set(p) - {"channel", "days"}:
        raise BadParams("reconcile_discrepancies takes params.channel and params.days only")
    d = p.get("days", 2)
    if not isinstance(d, int) or not 1 <= d <= 92:
        raise BadParams("reconcile_discrepancies params.days is 1..92")


def _check_venue(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")) or set(p) - {"venue_id"}:
        raise BadParams("bridge_offline takes params.venue_id only")


def _check_in_park(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")):
        raise BadParams("in_park_percent needs params.venue_id")
    if not isinstance(p.get("maximum"), int) or p["maximum"] < 1:
        raise BadParams("in_park_percent needs params.maximum, a whole number >= 1")


def _check_dead(p: Mapping[str, Any]) -> None:
    if set(p) - {"partner"}:
        raise BadParams("dead_letters takes only params.partner")


def _check_double(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")):
        raise BadParams("double_use needs params.venue_id")
    w = p.get("window_seconds", 3600)
    if not isinstance(w, int) or not 60 <= w <= 86_400 * 7:
        raise BadParams("double_use params.window_seconds is 60..604800")


def _check_device(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")) or set(p) - {"venue_id", "device_id"}:
        raise BadParams("device_offline takes params.venue_id and optionally params.device_id")


def _check_skew(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")) or set(p) - {"venue_id"}:
        raise BadParams("bridge_clock_skew takes params.venue_id only")


def _window(kind: str, p: Mapping[str, Any], default: int, most: int) -> None:
    w = p.get("window_seconds", default)
    if not isinstance(w, int) or isinstance(w, bool) or not 60 <= w <= most:
        raise BadParams(f"{kind} params.window_seconds is 60..{most}")


def _check_payments(p: Mapping[str, Any]) -> None:
    if set(p) - {"provider", "window_seconds"}:
        raise BadParams("payment_failures takes params.provider and params.window_seconds")
    _window("payment_failures", p, 300, 86_400)


def _check_slot(p: Mapping[str, Any]) -> None:
    if not str(p.get("venue_id", "")) or not str(p.get("slot", "")):
        raise BadParams("slot_arrival_rate needs params.venue_id and params.slot")
    if set(p) - {"venue_id", "slot", "window_seconds"}:
        raise BadParams("slot_arrival_rate takes params.venue_id, slot and window_seconds")
    _window("slot_arrival_rate", p, 300, 3600)


KINDS: dict[str, tuple[Measure, Callable[[Mapping[str, Any]], None]]] = {
    "in_park_percent": (in_park_percent, _check_in_park),
    "dead_letters": (dead_letters, _check_dead),
    "double_use": (double_use, _check_double),
    "bridge_offline": (bridge_offline, _check_venue),
    "device_offline": (device_offline, _check_device),
    "bridge_clock_skew": (bridge_clock_skew, _check_skew),
    "payment_failures": (payment_failures, _check_payments),
    "slot_arrival_rate": (slot_arrival_rate, _check_slot),
    "reconcile_discrepancies": (reconcile_discrepancies, _check_reconcile),
}


def check_params(kind: str, params: Mapping[str, Any]) -> None:
    if kind not in KINDS:
        raise BadParams(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    KINDS[kind][1](params)


async def measure(
    conn: AsyncConnection, kind: str, params: Mapping[str, Any], now: datetime
) -> Reading:
    return await KINDS[kind][0](conn, params, now)
