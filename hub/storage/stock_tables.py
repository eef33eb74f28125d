"""Tables of the stock push (`hub.stockpush`): the stock-dirty marks appended in each
stock transaction, what each OTA channel was told per product, day and slot, and the
one push in flight per channel and product.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the tables are in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class StockDirtyRow(SQLModel, table=True):
    """A change of sellable stock on one pool, day and slot, appended in the transaction
    that made it (`hub.inventory.marks`); the stock pusher (`hub.stockpush`) drains and
    deletes it. Append-only so the order writer's hot path takes no extra row lock."""

    __tablename__ = "stock_push"

    id: int | None = Field(default=None, primary_key=True)
    pool: str = Field(max_length=64)
    day: date
    slot: str = Field(default="", max_length=32)
    changed_at: datetime = _ts(nullable=False)


class StockPushTargetRow(SQLModel, table=True):
    """What one OTA channel was told, and what it still has to hear, of one product's
    stock on one day and slot. ``version`` grows with every drained change; a push
    that read the stock at version V sets ``sent_version`` to V, so the row is dirty
    while ``version > sent_version``."""

    __tablename__ = "stock_push_target"

    channel: str = Field(primary_key=True, max_length=32)
    product_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    slot: str = Field(primary_key=True, max_length=32)
    version: int = 0
    sent_version: int = 0
    sent_quantity: int | None = None
    changed_at: datetime = _ts(nullable=False)
    sent_at: datetime | None = _ts(nullable=True)


class StockPushLaneRow(SQLModel, table=True):
    """One OTA channel × product: at most one push in flight (``pending_key``, the
    outbox dedupe key), so pushes of a resource are serialized and each carries the
    stock read after the previous one landed — the partner never ends older."""

    __tablename__ = "stock_push_lane"

    channel: str = Field(primary_key=True, max_length=32)
    product_id: str = Field(primary_key=True, max_length=64)
    seq: int = 0
    pending_key: str | None = Field(default=None, max_length=200)
    last_sent_at: datetime | None = _ts(nullable=True)
