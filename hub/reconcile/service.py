"""Import a WeChat bill: parse it strictly, read the hub's side of that day, match, store
— the one entry point the CLI, the admin API and the bench share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.channels.loader import load_all
from hub.channels.spec import ChannelSpec
from hub.reconcile import hubside, ota, settlement, store
from hub.reconcile.matching import Day, match
from hub.reconcile.store import Imported
from hub.reconcile.wechat_bill import CHINA, parse
from hub.storage.db import reader

CHANNELS = ("wechat",)  # read by code; every other channel by its spec's [settlement]
DEFAULT_WINDOW = timedelta(minutes=5)


class UnsupportedChannel(ValueError):
    pass


def wechat_merchant(channel_settings: Mapping[str, Mapping[str, Any]]) -> str:
    """The merchant id (mch_id) the WeChat channel is configured with, or ''."""
    return str(channel_settings.get("wechat", {}).get("WECHAT_MCHID", "") or "")


def wechat_day(day: date, window: timedelta) -> Day:
    """A WeChat bill day runs midnight to midnight China time, whatever the venue's zone."""
    start = datetime.combine(day, time(0), CHINA).astimezone(UTC)
    return Day(start, start + timedelta(days=1), window)


async def import_statement(
    engine: AsyncEngine,
    *,
    channel: str,
    day: date,
    raw: bytes,
    merchant: str,
    by: str,
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    spec: ChannelSpec | None = None,
) -> Imported:
    """BillError for a statement that cannot be read as given (nothing stored). A channel
    other than WeChat is read by its spec's ``[settlement]`` section (`spec`)."""
    if channel not in CHANNELS:
        if spec is None or spec.settlement is None:
            raise UnsupportedChannel(
                f"channel {channel!r} declares no settlement file ([settlement] in its spec)"
            )
        return await _import_settlement(
            engine, spec, day=day, raw=raw, merchant=merchant, by=by, now=now, window=window
        )
    bill = parse(raw, day=day, merchant=merchant)
    bounds = wechat_day(day, window)
    async with reader(engine).connect() as conn:
        payments = await hubside.payments(conn, bounds, bill.lines)
        refunds = await hubside.refunds(conn, bounds, bill.lines)
    found = match(bill.lines, payments, refunds, bounds)
    return await store.save_import(
        engine,
        channel=channel,
        day=day,
        merchant=merchant,
        sha256=bill.sha256,
        lines=len(bill.lines),
        totals=bill.totals,
        found=found,
        by=by,
        now=now,
    )


async def _import_settlement(
    engine: AsyncEngine,
    spec: ChannelSpec,
    *,
    day: date,
    raw: bytes,
    merchant: str,
    by: str,
    now: datetime,
    window: timedelta,
) -> Imported:
    assert spec.settlement is not None
    channel = spec.channel.name
    read = settlement.parse(raw, spec.settlement, day=day, merchant=merchant)
    bounds = ota.local_day(day, spec.settlement.timezone, window)
    async with reader(engine).connect() as conn:
        orders = await ota.hub_orders(conn, channel, bounds, read.lines)
    return await store.save_import(
        engine,
        channel=channel,
        day=day,
        merchant=merchant,
        sha256=read.sha256,
        lines=len(read.lines),
        totals=read.totals,
        found=ota.match(channel, read.lines, orders, bounds),
        by=by,
        now=now,
    )


def settlement_merchant(
    spec: ChannelSpec, channel_settings: Mapping[str, Mapping[str, Any]]
) -> str:
    """Our id at the partner, from the setting the spec names (or '')."""
    name = spec.settlement.merchant_setting if spec.settlement else None
    if not name:
        return ""
    return str(channel_settings.get(spec.channel.name, {}).get(name, "") or "")


def statement_merchant(
    channel: str, spec: ChannelSpec | None, channel_settings: Mapping[str, Mapping[str, Any]]
) -> str:
    """Our id on `channel`'s statements: the spec's merchant setting for an OTA, WeChat's
    mch_id otherwise (what every import door checks the file against)."""
    if spec is not None:
        return settlement_merchant(spec, channel_settings)
    return wechat_merchant(channel_settings)


def channel_spec(channel: str, adapters: Iterable[Any], dirs: Iterable[str]) -> ChannelSpec | None:
    """The spec of `channel`: its adapter's (a plugin built on a spec keeps it as
    ``.spec``, wherever the file lives), else a spec-only channel's from the folders."""
    for adapter in adapters:
        spec = getattr(adapter, "spec", None)
        if getattr(adapter, "name", None) == channel and isinstance(spec, ChannelSpec):
            return spec
    for folder in dirs:
        found = load_all(folder).get(channel)
        if found is not None:
            return found
    return None
