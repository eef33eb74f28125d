"""Alert rules as staff write them (admin API), validated and stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.alerts.measures import check_params
from hub.storage.alert_tables import AlertRuleRow

RULES = AlertRuleRow.__table__
R = RULES.c


class RuleIn(BaseModel):
    """A rule: opens when the value reaches ``open_at``, clears when it falls below
    ``clear_below`` (at most ``open_at``: the gap is the hysteresis that keeps a value
    hovering at the threshold from flapping)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(
        description="in_park_percent | dead_letters | double_use | bridge_offline | "
        "device_offline | bridge_clock_skew | payment_failures | slot_arrival_rate"
        " | reconcile_discrepancies"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    open_at: float = Field(ge=0)
    clear_below: float = Field(ge=0)
    destinations: list[str] = Field(default_factory=list, max_length=20)
    remind_seconds: int = Field(default=900, ge=60, le=86_400)
    enabled: bool = True

    @model_validator(mode="after")
    def _valid(self) -> RuleIn:
        if self.clear_below > self.open_at:
            raise ValueError("clear_below must not be above open_at")
        check_params(self.kind, self.params)
        return self


class DuplicateRule(Exception):
    pass


def as_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    for k in ("created_at", "updated_at"):
        d[k] = d[k].isoformat()
    return d


async def create(conn: AsyncConnection, rule: RuleIn, now: datetime) -> dict[str, Any]:
    values = {**rule.model_dump(), "created_at": now, "updated_at": now}
    try:
        async with conn.begin_nested():
            row = (await conn.execute(RULES.insert().values(values).returning(*R))).one()
    except IntegrityError:
        raise DuplicateRule(rule.name) from None
    return as_dict(row)


async def replace(
    conn: AsyncConnection, rule_id: int, rule: RuleIn, now: datetime
) -> dict[str, Any] | None:
    values = {**rule.model_dump(), "updated_at": now}
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    update(RULES).where(R.id == rule_id).values(values).returning(*R)
                )
            ).first()
    except IntegrityError:
        raise DuplicateRule(rule.name) from None
    return as_dict(row) if row else None


async def remove(conn: AsyncConnection, rule_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(delete(RULES).where(R.id == rule_id).returning(*R))).first()
    return as_dict(row) if row else None


async def listing(conn: AsyncConnection, *, enabled_only: bool = False) -> list[dict[str, Any]]:
    stmt = select(RULES).order_by(R.id)
    if enabled_only:
        stmt = stmt.where(R.enabled.is_(True))
    return [as_dict(r) for r in (await conn.execute(stmt)).all()]


def unknown_destinations(rule: RuleIn, known: Iterable[str]) -> list[str]:
    names = set(known)
    return [d for d in rule.destinations if d not in names]
