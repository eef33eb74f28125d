"""Tables of the staff side's health figures: each venue device as its bridge last
reported it, and payment-provider failures (the ``device_offline`` and
``payment_failures`` alert rules read them; the console's devices page lists the first).

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the tables are in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class DeviceHealthRow(SQLModel, table=True):
    """One device of a venue as its bridge last reported it (each sync round and each
    heartbeat). ``online`` is None when the bridge cannot tell (a device kind that only
    speaks when scanned); ``offline_since`` is the HUB's time of the first report that
    said offline, kept while the device stays offline (``device_offline`` measures from
    it, so a bridge's wrong clock cannot make a device look offline longer)."""

    __tablename__ = "device_health"

    venue_id: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=64)
    bridge_id: str = Field(default="", max_length=24)
    vendor: str = Field(default="", max_length=32)
    gate: str = Field(default="", max_length=64)
    online: bool | None = None
    last_seen_at: datetime | None = _ts(nullable=True)  # the bridge's clock
    event_lag_s: float | None = None
    list_version: str = Field(default="", max_length=64)
    last_error: str = Field(default="", max_length=500)
    reported_at: datetime = _ts(nullable=False)  # the hub's clock
    offline_since: datetime | None = _ts(nullable=True)  # the hub's clock


class PaymentFailureRow(SQLModel, table=True):
    """One failed call to a payment provider (a prepay WeChat Pay did not answer, a
    refund it refused…), written by the channel plugin that made the call
    (`hub.payments.PaymentFailures`); ``payment_failures`` counts them in a window."""

    __tablename__ = "payment_failure"
    __table_args__ = (Index("ix_payment_failure_at", "provider", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    operation: str = Field(max_length=32)  # prepay | refund | close | query …
    code: str = Field(default="", max_length=64)  # the provider's error code, if any
    reference: str = Field(default="", max_length=64)  # out_trade_no / out_refund_no
    at: datetime = _ts(nullable=False)
