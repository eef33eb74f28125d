"""Tables of the emergency box office at the bridges (`hub.emergency`): the bridge keys
the venue key certified (and their revocation).

The emergency allotments themselves are inventory buckets (``emergency:<bridge id>``,
`hub.emergency.allotments`) and the synced sales are orders of channel ``emergency``,
so stock, reports and the stock push see them without a table of their own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class BridgeKeyRow(SQLModel, table=True):
    """A bridge's public key certified by its venue's key, with the certificate's
    signature (`hub.domain.delegation`). ``key_id`` is never reused within a venue."""

    __tablename__ = "bridge_key"
    __table_args__ = (UniqueConstraint("venue_id", "key_id", name="uq_bridge_key_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: str = Field(max_length=64)
    bridge_id: str = Field(max_length=24)
    key_id: int
    public_key: str = Field(max_length=64)
    issuer_key_id: int
    signature: str = Field(max_length=128)
    valid_from: datetime = _ts(nullable=False)
    valid_until: datetime = _ts(nullable=False)
    certified_at: datetime = _ts(nullable=False)
    certified_by: str = Field(default="", max_length=64)
    revoked_at: datetime | None = _ts(nullable=True)
    revoked_by: str = Field(default="", max_length=64)
    revoke_reason: str = Field(default="", max_length=200)
