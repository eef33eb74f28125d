"""The venue's gate → attraction map (`hub.domain.combo`): which attraction's combo part
a gate takes. A gate that is not listed belongs to the venue itself (the main gate).

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the table is in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class GateAttractionRow(SQLModel, table=True):
    __tablename__ = "gate_attraction"

    venue_id: str = Field(primary_key=True, max_length=64)
    gate: str = Field(primary_key=True, max_length=64)
    attraction: str = Field(max_length=64)
