"""Tables of the console's operations pages (`hub.console.pages.conflicts`): what a
person decided about a double-use conflict.

A redemption row records the conflict itself (``redemption.conflict``) and is never
rewritten by staff — it is the bridge's fact. The resolution is a fact of its own, one
row per conflicting redemption, written with its audit line in one transaction.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the table is in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class ConflictResolutionRow(SQLModel, table=True):
    """A double-use conflict (a redemption whose ``conflict`` is set) a supervisor has
    looked into, with who, when and the note they left."""

    __tablename__ = "conflict_resolution"

    redemption_id: str = Field(primary_key=True, max_length=64)
    venue_id: str = Field(max_length=64, index=True)
    resolved_by: str = Field(max_length=64)
    resolved_at: datetime = _ts(nullable=False)
    note: str = Field(max_length=500)
