"""Parameter models of the built-in checks.

Strict on purpose: rule documents are written by people, and ``"limit": "2"``, a date as
``2026/01/01`` or a misspelt key should be refused when the product is saved rather than
coerced into something nobody meant.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from hub.domain.catalog import SlotInfo

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _hhmm(value: Any) -> Any:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError("a venue-local time has no timezone")
        return value
    if isinstance(value, str) and _HHMM.fullmatch(value):
        return time.fromisoformat(value)
    raise ValueError("expected a venue-local time as 'HH:MM'")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)  # raises ValueError for 2026-02-30
    raise ValueError("expected a date as 'YYYY-MM-DD'")


def _slot_code(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a slot code such as '09:00-11:00'")
    if value == "":
        return value
    start, sep, end = value.partition("-")
    if not (sep and _HHMM.fullmatch(start) and _HHMM.fullmatch(end)) or start >= end:
        raise ValueError("expected a slot code 'HH:MM-HH:MM' with start before end")
    return value


Int = Annotated[int, Strict()]
HHMM = Annotated[time, BeforeValidator(_hhmm)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Weekday = Annotated[int, Strict(), Field(ge=1, le=7)]
SlotCode = Annotated[str, BeforeValidator(_slot_code)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _ordered(low: int | None, high: int | None, what: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"{what}: min must not exceed max")


# -- sale ---------------------------------------------------------------------------------


class RealNameParams(Params):
    pass


class QuantityParams(Params):
    min: Int = Field(default=1, ge=1)
    max: Int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _ordered(self.min, self.max, "quantity")
        return self


class PerIdDailyLimitParams(Params):
    limit: Int = Field(ge=1)
    scope: Literal["product", "venue"] = "product"


class BookingWindowParams(Params):
    max_advance_days: Int | None = Field(default=None, ge=0)
    min_advance_days: Int = Field(default=0, ge=0)
    same_day_cutoff: HHMM | None = None
    slot_cutoff_minutes: Int | None = Field(default=None, ge=0, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _ordered(self.min_advance_days, self.max_advance_days, "advance days")
        return self


class UsableDatesParams(Params):
    from_: IsoDate | None = Field(default=None, alias="from")
    to: IsoDate | None = None
    weekdays: tuple[Weekday, ...] | None = Field(default=None, min_length=1)
    except_: tuple[IsoDate, ...] | None = Field(default=None, alias="except")
    only: tuple[IsoDate, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("'from' must not be after 'to'")
        return self


class UsableSlotsParams(Params):
    slots: tuple[SlotCode, ...] = Field(min_length=1)

    def allows(self, slot: SlotInfo) -> bool:
        """Compares times, not text, so '09:00-11:00' matches however a partner spells it."""
        wanted = (slot.start, slot.end)
        return any((s.start, s.end) == wanted for s in map(SlotInfo.parse, self.slots))


class GroupSizeParams(Params):
    min: Int = Field(default=1, ge=1)
    max: Int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _ordered(self.min, self.max, "group size")
        return self


class AgeParams(Params):
    min: Int | None = Field(default=None, ge=0, le=150)
    max: Int | None = Field(default=None, ge=0, le=150)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("age: give min, max or both")
        _ordered(self.min, self.max, "age")
        return self


# -- entry --------------------------------------------------------------------------------


class EntriesParams(Params):
    per_day: Int | None = Field(default=None, ge=1)
    total: Int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.per_day is None and self.total is None:
            raise ValueError("entries: give per_day, total or both")
        return self


class EntryWindowParams(Params):
    from_: HHMM = Field(alias="from")
    to: HHMM

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.from_ == self.to:
            raise ValueError("entry_window: 'from' and 'to' must differ")
        return self


class SlotWindowParams(Params):
    early_minutes: Int = Field(default=0, ge=0, le=24 * 60)
    late_minutes: Int = Field(default=0, ge=0, le=24 * 60)
