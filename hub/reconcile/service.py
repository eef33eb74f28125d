"""Import a WeChat bill: parse it strictly, read the hub's side of that day, match, store
— the one entry point the CLI, the admin API and the bench share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.reconcile import hubside, store
from hub.reconcile.matching import Day, match
from hub.reconcile.store import Imported
from hub.reconcile.wechat_bill import CHINA, parse
from hub.storage.db import reader

CHANNELS = ("wechat",)  # statements this slice reads; OTA settlement files come later
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
) -> Imported:
    """BillError for a statement that cannot be read as given (nothing stored)."""
    if channel not in CHANNELS:
        raise UnsupportedChannel(
            f"statements of channel {channel!r} cannot be imported yet (only {', '.join(CHANNELS)})"
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
