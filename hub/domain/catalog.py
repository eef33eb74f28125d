"""Catalog: venues, products, prices and the time slots they are sold in.

Money is an integer number of fen (1/100 CNY) everywhere: no floats near money.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Venue(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        # Booking windows and entry hours are venue-local: an unknown zone is unusable.
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r}") from exc
        return v


class ProductKind(StrEnum):
    SINGLE = "single"
    COMBO = "combo"  # takes stock from every component atomically, or none
    GROUP = "group"  # one order = one group; group rules (minimum size, roster) apply


class ComboComponent(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str = Field(pattern=_ID)
    quantity: int = Field(default=1, ge=1, le=100)
    attraction: str | None = Field(
        default=None,
        pattern=_ID,
        description="the attraction whose gates take this part's entries (default: product_id)",
    )
    refund_amount: int = Field(
        default=0, ge=0, description="fen back per unit when this part is refunded unused"
    )

    @property
    def part(self) -> str:
        """The key of this part on a combo ticket: the attraction its gates belong to."""
        return self.attraction or self.product_id


class PriceRule(BaseModel):
    """One price; the most specific matching rule wins (channel, then date range, weekday)."""

    model_config = ConfigDict(frozen=True)

    amount: int = Field(ge=0, description="fen per unit")
    channel: str = "*"
    date_from: date | None = None
    date_to: date | None = None
    weekdays: tuple[int, ...] | None = Field(default=None, description="1=Monday … 7=Sunday")
    account: str | None = Field(default=None, description="a negotiated price of one B2B account")

    def matches(self, channel: str, day: date, account: str | None = None) -> bool:
        if self.channel not in ("*", channel):
            return False
        if self.account is not None and self.account != account:
            return False
        if self.date_from and day < self.date_from:
            return False
        if self.date_to and day > self.date_to:
            return False
        return not (self.weekdays and day.isoweekday() not in self.weekdays)

    def specificity(self) -> tuple[int, int, int, int]:
        return (
            self.account is not None,
            self.channel != "*",
            self.date_from is not None or self.date_to is not None,
            self.weekdays is not None,
        )


class Product(BaseModel):
    """A sellable thing. Single and group products draw from an inventory `pool`; a combo
    draws from the pools of its components."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=_ID)
    venue_id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    kind: ProductKind = ProductKind.SINGLE
    pool: str | None = Field(default=None, pattern=_ID)
    components: tuple[ComboComponent, ...] = ()
    prices: tuple[PriceRule, ...] = ()
    rules: dict[str, Any] = Field(default_factory=dict, description="rule document (JSON)")
    channels: tuple[str, ...] | None = Field(default=None, description="None = every channel")
    valid_days: int = Field(
        default=1, ge=1, le=366, description="days a ticket is valid from the travel date"
    )
    active: bool = True
    parts_refundable: bool = Field(
        default=False, description="a combo whose unused parts may be refunded one by one"
    )

    @field_validator("components")
    @classmethod
    def _no_nested_duplicates(cls, v: tuple[ComboComponent, ...]) -> tuple[ComboComponent, ...]:
        ids = [c.product_id for c in v]
        if len(ids) != len(set(ids)):
            raise ValueError("a combo lists each component once")
        if len({c.part for c in v}) != len(v):
            raise ValueError("a combo lists each attraction once")
        return v

    def model_post_init(self, _ctx: Any) -> None:
        if self.kind is ProductKind.COMBO:
            if not self.components:
                raise ValueError("a combo needs components")
        elif not self.pool:
            raise ValueError(f"a {self.kind.value} product needs an inventory pool")

    def price_for(self, channel: str, day: date, account: str | None = None) -> int | None:
        """Unit price in fen for this channel, day and (B2B) account; None: not for sale.
        The most specific matching rule wins: account, then channel, dates, weekdays."""
        best: PriceRule | None = None
        for rule in self.prices:
            if rule.matches(channel, day, account) and (
                best is None or rule.specificity() > best.specificity()
            ):
                best = rule
        return best.amount if best else None

    def sold_on(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    def entries_allowed(self) -> int:
        """Entries one credential carries: the rule document's ``entries.total`` (default
        1). Here, not in the order service, because a bridge issuing emergency tickets
        must give them exactly what the hub would."""
        for rule in self.rules.get("entry", ()):
            if isinstance(rule, dict) and rule.get("check") == "entries" and rule.get("total"):
                return int(rule["total"])
        return 1


class SlotInfo(BaseModel):
    """A time slot of one day. `code` is what partners send (e.g. ``"09:00-11:00"``);
    the empty code means the whole day."""

    model_config = ConfigDict(frozen=True)

    code: str = ""
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    @classmethod
    def parse(cls, code: str) -> SlotInfo:
        if not code:
            return cls()
        a, _, b = code.partition("-")
        return cls(code=code, start=time.fromisoformat(a), end=time.fromisoformat(b))
