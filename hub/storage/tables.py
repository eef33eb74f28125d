"""The tables. SQLModel classes define the schema (and Alembic migrates it); hot paths use
SQLAlchemy Core on ``Model.__table__`` so an order costs a few statements, not an ORM
unit of work.

Datetimes are stored as aware UTC; dates as venue-local calendar dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    LargeBinary,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


class AwareDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to an aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(AwareDateTime(), **kw))


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False, **kw))


class VenueRow(SQLModel, table=True):
    __tablename__ = "venue"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    signing_key_id: int = Field(default=1)
    # Ed25519 raw keys, base64. The embedded default keeps the private key here; a
    # deployment with a secret store sets TICKETHUB_SIGNING_KEYS instead.
    signing_private_key: str = Field(default="", max_length=128)
    signing_public_key: str = Field(default="", max_length=128)
    # The most visitors the venue may hold at once (the flow wall's gauge); None: not set.
    max_in_park: int | None = Field(default=None)


class ProductRow(SQLModel, table=True):
    __tablename__ = "product"

    id: str = Field(primary_key=True, max_length=64)
    venue_id: str = Field(foreign_key="venue.id", max_length=64, index=True)
    doc: dict[str, Any] = _json()  # the whole hub.domain.Product as JSON
    updated_at: datetime = _ts(nullable=False)


class InventoryRow(SQLModel, table=True):
    """Capacity of one pool on one day in one slot, for one bucket.

    Bucket ``""`` is the common pool; a channel's allotment is a bucket named after the
    channel, optionally falling back to the common bucket when exhausted. The common
    bucket's capacity is the slot capacity minus all allotments.
    """

    __tablename__ = "inventory"
    __table_args__ = (
        UniqueConstraint("pool", "day", "slot", "bucket", name="uq_inventory_cell"),
        CheckConstraint("held >= 0 AND sold >= 0 AND capacity >= 0", name="ck_inventory_counts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pool: str = Field(max_length=64)
    day: date
    slot: str = Field(default="", max_length=32)
    bucket: str = Field(default="", max_length=32)
    start: str = Field(default="00:00", max_length=8)
    end: str = Field(default="23:59", max_length=8)
    capacity: int = 0
    held: int = 0
    sold: int = 0
    fallback: bool = True


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "partner_order_id", name="uq_order_partner"),
        Index("ix_orders_hold", "state", "hold_expires_at"),
        Index("ix_orders_day", "travel_date", "slot"),
        # The day report and reconciliation read a day's sales by payment time.
        Index("ix_orders_venue_confirmed", "venue_id", "confirmed_at"),
        Index("ix_orders_channel_confirmed", "channel", "confirmed_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    channel: str = Field(max_length=32)
    partner_order_id: str = Field(max_length=128)
    venue_id: str = Field(max_length=64)
    state: str = Field(max_length=20)
    travel_date: date
    slot: str = Field(default="", max_length=32)
    amount: int = 0
    currency: str = Field(default="CNY", max_length=3)
    lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    contact: dict[str, Any] = _json()
    extra: dict[str, Any] = _json()
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    hold_expires_at: datetime | None = _ts(nullable=True)
    confirmed_at: datetime | None = _ts(nullable=True)


class OrderVisitorRow(SQLModel, table=True):
    __tablename__ = "order_visitor"

    order_id: str = Field(primary_key=True, foreign_key="orders.id", max_length=40)
    idx: int = Field(primary_key=True)
    name: str = Field(default="", max_length=100)
    id_type: str = Field(default="id_card", max_length=20)
    # The ID number sealed (hub.storage.sealed, bound to order id + idx) and its keyed
    # hash, which is what lookups and per-ID counters use; never stored in clear.
    id_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    id_hash: str | None = Field(default=None, max_length=64, index=True)
    phone: str | None = Field(default=None, max_length=32, index=True)  # the console's search


class AllocationRow(SQLModel, table=True):
    """Which inventory cells an order took, so release and refund return exactly them."""

    __tablename__ = "allocation"

    order_id: str = Field(primary_key=True, foreign_key="orders.id", max_length=40)
    inventory_id: int = Field(primary_key=True, foreign_key="inventory.id")
    quantity: int


class IdDayCountRow(SQLModel, table=True):
    """Units bought per identity per travel day across ALL channels (per-ID limits).
    `id_key` is a keyed hash of the ID number, not the number itself."""

    __tablename__ = "id_day_count"

    scope: str = Field(primary_key=True, max_length=64)
    id_key: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    count: int = 0


class TicketRow(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (
        # The bridge change feed's cursor (seq, id): a range, in order, on this index.
        Index("ix_ticket_change_id", "venue_id", "change_seq", "id"),
        # The day report reads a day's refunds by when the tickets were revoked.
        Index("ix_ticket_venue_revoked", "venue_id", "revoked_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    order_id: str = Field(foreign_key="orders.id", max_length=40, index=True)
    product_id: str = Field(max_length=64)
    venue_id: str = Field(max_length=64)
    visitor_index: int | None = None
    # the holder's ID number of a real-name ticket: sealed (bound to the ticket id) + hash
    holder_id_sealed: bytes | None = Field(
        default=None, sa_column=Column(LargeBinary, nullable=True)
    )
    holder_id_hash: str | None = Field(default=None, max_length=64, index=True)
    valid_from: datetime = _ts(nullable=False)
    valid_until: datetime = _ts(nullable=False)
    entries_allowed: int = 1
    entries_used: int = 0
    units: int = 1
    state: str = Field(default="valid", max_length=16)
    credential: str = Field(default="", max_length=512)
    revoked_at: datetime | None = _ts(nullable=True)
    # a combo's entries per attraction (`hub.domain.combo`); NULL for a plain ticket
    parts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Monotonic per change, for the venue bridge's "changes since cursor" sync.
    change_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class FaceRow(SQLModel, table=True):
    """The face photo a visitor enrolled for their ticket, encrypted (`hub.faces.crypto`).

    A table of its own, so a photo is never read by accident with its ticket and deleting
    it is deleting one row (on refund, cancellation, replacement of the visitor, and once
    the visit is over). `version` is new at every enrollment: the bridge change feed
    carries it, never the photo, and a bridge fetches the photo when the version moves."""

    __tablename__ = "face"

    ticket_id: str = Field(primary_key=True, foreign_key="ticket.id", max_length=32)
    venue_id: str = Field(max_length=64)
    version: str = Field(max_length=32)
    photo: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    width: int
    height: int
    size: int
    source: str = Field(default="", max_length=16)  # wechat | staff
    enrolled_at: datetime = _ts(nullable=False)


class VenueChangeRow(SQLModel, table=True):
    """The per-venue change counter behind `TicketRow.change_seq`.

    Every transaction that changes a venue's tickets increments this row as its LAST
    write (a row lock on PostgreSQL held until commit; SQLite has one writer anyway), so
    for one venue the order of sequence numbers is the order of commits: a bridge that
    read up to seq N can never later see a commit with a smaller seq appear."""

    __tablename__ = "venue_change"

    venue_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class RedemptionRow(SQLModel, table=True):
    """One gate decision uploaded by a venue bridge (or entered by staff), recorded once
    by the decider's id. `at` is the bridge's clock, `device_at` the device's (skew is
    kept visible, never trusted); `conflict` names why an admitted entry could not count
    (used beyond its entries at two offline bridges, used after a refund)."""

    __tablename__ = "redemption"
    __table_args__ = (
        Index("ix_redemption_conflict", "venue_id", "conflict"),
        Index("ix_redemption_received", "venue_id", "received_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(max_length=32, index=True)
    venue_id: str = Field(max_length=64)
    gate: str = Field(max_length=64)
    device: str = Field(default="", max_length=64)
    medium: str = Field(default="qr", max_length=16)
    direction: str = Field(default="in", max_length=8)
    at: datetime = _ts(nullable=False)
    accepted: bool = True
    code: str = Field(default="", max_length=40)
    kind: str = Field(default="scan", max_length=16)  # scan | device | manual | backfill
    bridge: str = Field(default="", max_length=64)
    offline: bool = False
    device_at: datetime | None = _ts(nullable=True)
    received_at: datetime = _ts(nullable=False)
    counted: bool = False  # this row added an entry (or exit) to the ticket and the flow
    conflict: str = Field(default="", max_length=40)
    staff: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=200)
    part: str = Field(default="", max_length=64)  # the combo part this entry took, "" if none


class FlowCountRow(SQLModel, table=True):
    """Entries and exits per venue and venue-local day; in-park = entries - exits."""

    __tablename__ = "flow_count"

    venue_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    entries: int = 0
    exits: int = 0
    denied: int = 0
    conflicts: int = 0


class IdempotencyRow(SQLModel, table=True):
    """First answer to every outside message, keyed by (channel, operation, partner key).

    Inserted as ``pending`` before the work and completed in the same transaction, so a
    concurrent duplicate waits on the key and then reads the first answer."""

    __tablename__ = "idempotency"

    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    status: int = 0  # HTTP-like status of the first answer; 0 while pending
    response: dict[str, Any] = _json()
    # indexed: the console's order page lists the partner's messages about an order
    order_id: str | None = Field(default=None, max_length=40, index=True)
    created_at: datetime = _ts(nullable=False)


class OutboxRow(SQLModel, table=True):
    """A partner call that must land: claimed by a worker, retried on the partner's
    schedule until its deadline, then dead-lettered for a person to replay."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    partner: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=64)
    dedupe_key: str = Field(max_length=200, unique=True)
    payload: dict[str, Any] = _json()
    order_id: str | None = Field(default=None, max_length=40, index=True)
    state: str = Field(default="pending", max_length=16)  # pending|inflight|done|dead
    attempts: int = 0
    created_at: datetime = _ts(nullable=False)
    next_attempt_at: datetime = _ts(nullable=False)
    deadline_at: datetime | None = _ts(nullable=True)
    lease_until: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    delivered_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, max_length=2000)


class AccountRow(SQLModel, table=True):
    """A B2B account: a credit line (balance may go down to -credit_limit) or a prepaid
    balance (credit_limit 0). Charged in the same transaction that takes the stock."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint("balance + credit_limit >= 0", name="ck_account_not_overdrawn"),
    )

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(default="", max_length=64, description="the plugin or party owning it")
    kind: str = Field(default="prepaid", max_length=16)  # prepaid | credit
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    credit_limit: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    status: str = Field(default="active", max_length=16)  # active | suspended
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class AccountEntryRow(SQLModel, table=True):
    """Every movement of an account's balance, with the balance after it."""

    __tablename__ = "account_entry"
    __table_args__ = (Index("ix_account_entry_at", "account_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=64)
    kind: str = Field(max_length=16)  # charge | refund | top_up | adjust
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))  # signed fen
    balance_after: int = Field(sa_column=Column(BigInteger, nullable=False))
    order_id: str | None = Field(default=None, max_length=40, index=True)
    key: str | None = Field(default=None, max_length=128, unique=True)
    note: str = Field(default="", max_length=200)
    at: datetime = _ts(nullable=False)


class PluginRecordRow(SQLModel, table=True):
    """Documents a plugin keeps (agency profiles, API credentials, seen nonces…), so a
    plugin persists what it owns without shipping migrations of its own."""

    __tablename__ = "plugin_record"
    __table_args__ = (
        Index("ix_plugin_record_expiry", "expires_at"),
        # Reconciliation reads a channel's records (WeChat refunds) of one day.
        Index("ix_plugin_record_updated", "plugin", "kind", "updated_at"),
    )

    plugin: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    doc: dict[str, Any] = _json()
    expires_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(nullable=False)


class BridgeSeenRow(SQLModel, table=True):
    """When each venue's bridge last called the hub (config, changes or an upload): the
    ``bridge_offline`` alert rule reads it. Written at most every few seconds per process
    (`hub.alerts.bridges`), so a polling bridge costs no write per poll."""

    __tablename__ = "bridge_seen"

    venue_id: str = Field(primary_key=True, max_length=64)
    last_seen_at: datetime = _ts(nullable=False)
    # what the bridge's last health report said (`hub.bridges.health`); empty before one
    bridge_id: str = Field(default="", max_length=24)
    reported_at: datetime | None = _ts(nullable=True)
    clock_skew_s: float | None = None  # hub clock - bridge clock, from a heartbeat's time
    link: str = Field(default="", max_length=300)  # the hub URL it syncs through
    link_index: int | None = None  # 0 = its preferred URL; more = a backup
    pending_uploads: int | None = None  # decisions logged, not yet at the hub


class JobClaimRow(SQLModel, table=True):
    """A scheduled job's run for one day, claimed once across every hub process: the
    unique (job, day) key lets exactly one INSERT win (`hub.reconcile.claims`). The row
    then keeps how the run ended."""

    __tablename__ = "job_claim"
    __table_args__ = (UniqueConstraint("job", "day", name="uq_job_claim"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    day: date
    claimed_by: str = Field(max_length=100)
    claimed_at: datetime = _ts(nullable=False)
    finished_at: datetime | None = _ts(nullable=True)
    outcome: str = Field(default="running", max_length=16)  # running | done | none | failed
    detail: str = Field(default="", max_length=500)


METADATA = SQLModel.metadata

# Tables kept in their own modules (alert rules and alerts; statements and discrepancies;
# the flow wall's counters; device health and payment failures; the staff console's
# accounts, audit and throttle; the stock push's marks, targets and lanes; …): importing
# them here puts them in METADATA wherever the schema is used (Alembic, create_all, the
# schema templates).
from hub.storage import (  # noqa: E402, F401
    alert_tables,
    ceiling_tables,
    combo_tables,
    emergency_tables,
    flow_tables,
    health_tables,
    limit_tables,
    ops_tables,
    reconcile_tables,
    staff_tables,
    stock_tables,
)
