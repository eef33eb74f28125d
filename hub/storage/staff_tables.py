"""Tables of the staff console (`hub.console`): people's accounts, the audit log of what
they did, and the login throttle.

Kept apart from `hub.storage.tables` (already long); that module imports this one at its
end, so ``METADATA`` — and therefore Alembic and the schema templates — always has them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from hub.storage.tables import AwareDateTime


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(AwareDateTime(), **kw))


class StaffRow(SQLModel, table=True):
    """A person who signs in to the console (machines keep their bearer tokens).

    ``session_epoch`` goes up when the password changes or the account is disabled: a
    session cookie carries the epoch it was issued under, so every older cookie stops
    working at once without a server-side session store."""

    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)  # admin | supervisor | operator | viewer
    language: str = Field(default="zh_CN", max_length=16)
    password_hash: str = Field(max_length=256)
    disabled: bool = False
    session_epoch: int = 0
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    last_login_at: datetime | None = _ts(nullable=True)


class StaffAuditRow(SQLModel, table=True):
    """One staff action: who (``actor``, the username at the time), what (``action`` and
    its ``target``), when, from where, and the state before → after. Written in the same
    transaction as the change it describes."""

    __tablename__ = "staff_audit"
    __table_args__ = (
        Index("ix_staff_audit_at", "at"),
        Index("ix_staff_audit_target", "target"),  # an order page lists its own lines
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    remote: str = Field(default="", max_length=64)


class StaffThrottleRow(SQLModel, table=True):
    """Failed logins per key (``user:<name>`` or ``addr:<client address>``) in the current
    window, and until when the key is refused. In the database, so every hub process
    sharing it counts the same failures."""

    __tablename__ = "staff_throttle"

    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    window_started_at: datetime = _ts(nullable=False)
    blocked_until: datetime | None = _ts(nullable=True)
