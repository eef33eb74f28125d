"""Tables of day-end reconciliation: each imported statement (a WeChat bill, an OTA's
settlement file, a paper sheet) and each discrepancy found matching it against the hub's
payments — `hub.reconcile` writes and reads them, the console lists them.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the tables are in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.storage.tables import _json, _ts


class StatementRow(SQLModel, table=True):
    """A partner statement imported for one channel and day (reconciliation). The content
    hash makes a re-import of the same file a no-op."""

    __tablename__ = "reconcile_statement"
    __table_args__ = (Index("ix_reconcile_statement_day", "channel", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    day: date
    merchant: str = Field(default="", max_length=64)
    sha256: str = Field(max_length=64, unique=True)
    lines: int = 0
    totals: dict[str, Any] = _json()  # the summary line as read (fen)
    discrepancies: int = 0  # found by this import (new ones, not re-found ones)
    imported_by: str = Field(default="", max_length=64)
    imported_at: datetime = _ts(nullable=False)


class DiscrepancyRow(SQLModel, table=True):
    """One difference between the hub's books and a partner's statement, with the rule
    that found it and what a person did about it (open -> acknowledged -> resolved)."""

    __tablename__ = "reconcile_discrepancy"
    __table_args__ = (
        UniqueConstraint("channel", "day", "kind", "ref", name="uq_discrepancy"),
        Index("ix_discrepancy_state", "state", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=32)
    day: date
    kind: str = Field(max_length=20)  # hub_only | partner_only | amount_mismatch | ...
    rule: str = Field(max_length=64)
    ref: str = Field(max_length=200)  # the line key: pay:<out_trade_no>, refund:<no>, #n
    order_id: str | None = Field(default=None, max_length=40)
    hub_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    partner_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    detail: str = Field(default="", max_length=500)
    statement_id: int | None = Field(default=None, foreign_key="reconcile_statement.id")
    state: str = Field(default="open", max_length=16)  # open | acknowledged | resolved
    found_at: datetime = _ts(nullable=False)
    acked_by: str | None = Field(default=None, max_length=64)
    acked_at: datetime | None = _ts(nullable=True)
    ack_note: str | None = Field(default=None, max_length=500)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _ts(nullable=True)
    resolve_note: str | None = Field(default=None, max_length=500)
