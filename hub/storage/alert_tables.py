"""Tables of threshold alerts: the rules staff define (with their thresholds and
hysteresis) and each alert opened by them, with its acknowledgement and clearing —
`hub.alerts` evaluates and writes them, the console and the wall show them.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the tables are in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from hub.storage.tables import _json, _ts


class AlertRuleRow(SQLModel, table=True):
    """A staff-defined alert rule: what to measure (``kind`` + ``params``), where it opens
    and where it clears (hysteresis), where messages go and how often to remind."""

    __tablename__ = "alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=32)
    params: dict[str, Any] = _json()
    open_at: float
    clear_below: float
    destinations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    remind_seconds: int = 900
    enabled: bool = True
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class AlertRow(SQLModel, table=True):
    """One alert of a rule, from opening to resolution.

    ``open_key`` is the rule's id while the alert is not resolved and NULL after, and it
    is unique: opening is an INSERT that only one hub process can win, however many
    evaluate the rule at once (NULLs never collide, so resolved alerts pile up freely)."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_rule_state", "rule_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(index=True)
    rule_name: str = Field(max_length=100)
    kind: str = Field(max_length=32)
    open_key: int | None = Field(default=None, unique=True)
    state: str = Field(default="open", max_length=16)  # open | acknowledged | resolved
    value: float
    detail: str = Field(default="", max_length=500)
    opened_at: datetime = _ts(nullable=False)
    last_notified_at: datetime = _ts(nullable=False)
    reminders: int = 0
    acked_by: str | None = Field(default=None, max_length=64)
    acked_at: datetime | None = _ts(nullable=True)
    ack_note: str | None = Field(default=None, max_length=500)
    resolved_at: datetime | None = _ts(nullable=True)
