"""Counters behind the flow wall, kept by the writes themselves.

A wall refreshes every second on fifty screens; recounting orders, tickets or
redemptions per refresh would put the wall on the order path. So every transaction that
sells, refunds, cancels, records a gate decision or moves a partner call adds its deltas
to these rows in the same transaction (`hub.wall.counters`, `hub.outbox.counts`), and
the wall reads a few hundred small rows (`hub.wall.snapshot`).

Days are venue-local calendar days: a sale's day is the day it was confirmed, a slot's
day is the travel date, a gate bucket's day is the day of the decision (as
``flow_count``). `hub.wall.recount` rebuilds every row from the underlying ones (the
migration does, and the tests compare).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class FlowGateRow(SQLModel, table=True):
    """Counted entries and exits of one gate in one 5-minute bucket of a venue's day."""

    __tablename__ = "flow_gate"

    venue_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    minute: int = Field(primary_key=True)  # bucket start, minutes after local midnight
    gate: str = Field(primary_key=True, max_length=64)
    entries: int = 0
    exits: int = 0


class FlowSlotRow(SQLModel, table=True):
    """Per travel day and slot: units sold (live tickets) and units arrived (live tickets
    with at least one counted entry); not yet arrived = sold - arrived."""

    __tablename__ = "flow_slot"

    venue_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    slot: str = Field(primary_key=True, max_length=32)
    sold: int = 0
    arrived: int = 0


class FlowSalesRow(SQLModel, table=True):
    """Per venue-local day and channel: orders confirmed, their ticket units and money
    (fen), and units and money given back by refunds and cancellations that day."""

    __tablename__ = "flow_sales"

    venue_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=32)
    orders: int = 0
    tickets: int = 0
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    refunded_tickets: int = 0
    refunded_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class OutboxCountRow(SQLModel, table=True):
    """Partner calls per partner and state (pending, inflight, dead): the outbox backlog
    without counting the outbox table."""

    __tablename__ = "outbox_count"

    partner: str = Field(primary_key=True, max_length=32)
    state: str = Field(primary_key=True, max_length=16)
    n: int = 0
