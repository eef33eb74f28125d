"""The in-park ceiling's staff correction (`hub.redemptions.ceiling`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class InParkCorrectionRow(SQLModel, table=True):
    """Staff counted the visitors inside: ``count`` at the moment the day's flow counters
    stood at ``entries``/``exits``. The in-park number is then ``count`` plus what moved
    since — a correction, not an offset that drifts when counters are recounted."""

    __tablename__ = "in_park_correction"

    venue_id: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    count: int = 0
    entries: int = 0
    exits: int = 0
    set_at: datetime = _ts(nullable=False)


class CeilingGrantRow(SQLModel, table=True):
    """The share of the in-park headroom last granted to one bridge: until that bridge
    reports using it, the hub keeps it out of every other bridge's share."""

    __tablename__ = "ceiling_grant"

    venue_id: str = Field(primary_key=True, max_length=64)
    bridge: str = Field(primary_key=True, max_length=64)
    share: int = 0
    granted_at: datetime = _ts(nullable=False)
