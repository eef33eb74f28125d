"""Statements: what an agency booked, got back and paid in a period, with the opening and
closing balance, from the hub's ledger (the one place money moves), as JSON or CSV.

Plain functions over an `AccountService` and the plugin store, so the staff API and the
CLI (which runs in its own process, without a hub) build the very same statement.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plugins.channel_agency.profiles import account_id

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def period(date_from: date, date_to: date, tz: ZoneInfo = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """[from 00:00, the day after `to` 00:00) in venue time: `to` is inclusive."""
    return (
        datetime.combine(date_from, time(0), tz),
        datetime.combine(date_to + timedelta(days=1), time(0), tz),
    )


async def statement(
    accounts: Any, store: Any, agency_id: str, date_from: date, date_to: date
) -> dict[str, Any]:
    since, until = period(date_from, date_to)
    acct = account_id(agency_id)
    before = await accounts.entries(acct, until=since)
    entries = await accounts.entries(acct, since=since, until=until)
    opening = before[-1].balance_after if before else 0
    closing = entries[-1].balance_after if entries else opening
    groups = [
        d
        for _, d in await store.list("group", limit=100_000)
        if d.get("agency") == agency_id and since <= datetime.fromisoformat(d["created_at"]) < until
    ]
    charges = sum(-e.amount for e in entries if e.kind == "charge")
    refunds = [e for e in entries if e.kind == "refund"]
    return {
        "agency": agency_id,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "opening_balance": opening,
        "closing_balance": closing,
        "charged": charges,
        "refunded": sum(e.amount for e in refunds),
        "topped_up": sum(e.amount for e in entries if e.kind == "top_up"),
        "orders": [
            {
                k: g.get(k)
                for k in ("order_no", "order_id", "travel_date", "slot", "head_count", "status")
            }
            for g in sorted(groups, key=lambda g: g["created_at"])
        ],
        "refunds": [e.as_dict() for e in refunds],
        "entries": [e.as_dict() for e in entries],
    }


def to_csv(doc: dict[str, Any]) -> str:
    """One ledger movement per line, framed by the opening and closing balance rows, so the
    file adds up in a spreadsheet: opening + sum(amount) = closing."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["at", "kind", "amount", "balance_after", "order_id", "note"])
    w.writerow([doc["from"], "opening_balance", "", doc["opening_balance"], "", ""])
    for e in doc["entries"]:
        w.writerow(
            [e["at"], e["kind"], e["amount"], e["balance_after"], e["order_id"] or "", e["note"]]
        )
    w.writerow([doc["to"], "closing_balance", "", doc["closing_balance"], "", ""])
    return out.getvalue()
