"""The hub's side of a WeChat day, read with indexed queries.

- Payments: orders of channel ``wechat`` (its ``partner_order_id`` IS the
  ``out_trade_no``, see plugins/channel_wechat/trades.py) confirmed within the day and the
  midnight window (index ``ix_orders_channel_confirmed``), plus any order the bill names
  that is not among them (the unique (channel, partner_order_id) index, in chunks).
- Refunds: the WeChat plugin's refund records (plugin store, kind ``refund``, key
  ``<out_trade_no>/<out_refund_no>``, document with ``amount`` in fen and ``status``),
  updated within the day and window (index ``ix_plugin_record_updated``), plus those the
  bill names by key. The hub reads them as data; it imports nothing from the plugin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.orders.records import ORD
from hub.reconcile.matching import Day, HubPayment, HubRefund
from hub.reconcile.wechat_bill import BillLine
from hub.storage.tables import PluginRecordRow

REC = PluginRecordRow.__table__
CHANNEL = "wechat"
CHUNK = 500


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _payment(r: Any) -> HubPayment:
    return HubPayment(r[0], r[1], int(r[2]), r[3], r[4])  # the columns of `payments`


async def payments(
    conn: AsyncConnection, day: Day, lines: Iterable[BillLine]
) -> dict[str, HubPayment]:
    cols = (ORD.c.id, ORD.c.partner_order_id, ORD.c.amount, ORD.c.state, ORD.c.confirmed_at)
    result = await conn.execute(
        select(*cols).where(
            ORD.c.channel == CHANNEL,
            ORD.c.confirmed_at >= day.start - day.window,
            ORD.c.confirmed_at < day.end + day.window,
        )
    )
    # all rows at once (not a fetch per row), read by position: 100,000 a day
    out = {r[1]: _payment(r) for r in result.all()}
    missing = sorted({ln.out_trade_no for ln in lines if not ln.is_refund} - out.keys())
    for chunk in _chunks(missing):
        result = await conn.execute(
            select(*cols).where(ORD.c.channel == CHANNEL, ORD.c.partner_order_id.in_(chunk))
        )
        out.update({r[1]: _payment(r) for r in result.all()})
    return out


def _refund(r: Any) -> HubRefund:
    doc = r.doc
    return HubRefund(
        str(doc.get("out_trade_no", "")),
        str(doc.get("out_refund_no", "")),
        int(doc.get("amount", 0)),
        str(doc.get("status", "")),
        r.updated_at,
    )


async def refunds(
    conn: AsyncConnection, day: Day, lines: Iterable[BillLine]
) -> dict[str, HubRefund]:
    result = await conn.execute(
        select(REC.c.doc, REC.c.updated_at).where(
            REC.c.plugin == CHANNEL,
            REC.c.kind == "refund",
            REC.c.updated_at >= day.start - day.window,
            REC.c.updated_at < day.end + day.window,
        )
    )
    out = {h.out_refund_no: h for h in map(_refund, result)}
    keys = sorted(
        {
            f"{ln.out_trade_no}/{ln.out_refund_no}"
            for ln in lines
            if ln.is_refund and ln.out_refund_no not in out
        }
    )
    for chunk in _chunks(keys):
        result = await conn.execute(
            select(REC.c.doc, REC.c.updated_at).where(
                REC.c.plugin == CHANNEL, REC.c.kind == "refund", REC.c.key.in_(chunk)
            )
        )
        out.update({h.out_refund_no: h for h in map(_refund, result)})
    return out
