"""What the reconciliation tests share: the merchant, the bill's day, and a confirmed
order row of that day as the hub would have stored it (inserted straight into
``orders`` so a statement has something to match)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hub.reconcile.wechat_bill import CHINA

MCH = "1900000109"
DAY = date(2026, 12, 6)
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=CHINA)


def paid_order(otn: str, amount: int, channel: str = "wechat") -> dict[str, Any]:
    """An ``orders`` row: confirmed at noon of `DAY`, one adult line of ``amount`` fen."""
    return {
        "id": "o-" + otn,
        "channel": channel,
        "partner_order_id": otn,
        "venue_id": "v1",
        "state": "confirmed",
        "travel_date": DAY,
        "amount": amount,
        "lines": [{"product_id": "adult", "quantity": 1, "unit_price": amount}],
        "contact": {},
        "extra": {},
        "created_at": NOON,
        "updated_at": NOON,
        "confirmed_at": NOON,
    }
