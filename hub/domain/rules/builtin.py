"""The built-in checks every venue gets.

Each check is a pure function ``(params, ctx) -> None | Denial | Allow``. Reasons are short
English sentences a turnstile can display or a partner can show its customer; machine
detail goes in ``details``. ``visitor_index`` counts from 0 in ``ctx.visitors`` while the
reason counts from 1 ("Visitor 2"), because one is read by code and the other by people.
Raw ID numbers never appear in a reason, and only masked in details.

Booking codes: BOOKING_TOO_EARLY means "come back later" (beyond ``max_advance_days``);
every other booking refusal (date passed, inside ``min_advance_days``, after the same-day
cut-off, slot closed) is BOOKING_CLOSED, meaning "too late for that date or slot".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from hub.domain.errors import Denial, DenialCode
from hub.domain.masking import mask_id
from hub.domain.order import IdType
from hub.domain.rules.context import EntryContext, SaleContext
from hub.domain.rules.idcard import age_on, is_valid_id_card
from hub.domain.rules.params import (
    AgeParams,
    BookingWindowParams,
    EntriesParams,
    EntryWindowParams,
    GroupSizeParams,
    PerIdDailyLimitParams,
    QuantityParams,
    RealNameParams,
    SlotWindowParams,
    UsableDatesParams,
    UsableSlotsParams,
)
from hub.domain.rules.registry import RuleRegistry
from hub.domain.rules.results import Allow, Claim, RuleResult

_WEEKDAYS = (
    "",
    "Mondays",
    "Tuesdays",
    "Wednesdays",
    "Thursdays",
    "Fridays",
    "Saturdays",
    "Sundays",
)


def _hm(value: Any) -> str:
    return value.strftime("%H:%M")


def _one_visitor_per_unit(ctx: SaleContext) -> Denial | None:
    if len(ctx.visitors) != ctx.quantity:
        return Denial(
            DenialCode.VISITOR_COUNT_MISMATCH,
            f"Need one visitor per ticket ({ctx.quantity})",
            {"expected": ctx.quantity, "visitors": len(ctx.visitors)},
        )
    return None


# -- sale ---------------------------------------------------------------------------------


def real_name(params: RealNameParams, ctx: SaleContext) -> RuleResult:
    """One named, identified visitor per unit, each ID card valid, no ID twice."""
    if denial := _one_visitor_per_unit(ctx):
        return denial
    today = ctx.local_today
    seen: dict[tuple[str, str], int] = {}
    for i, visitor in enumerate(ctx.visitors):
        who = f"Visitor {i + 1}"
        if not visitor.name or not visitor.id_number:
            return Denial(
                DenialCode.REAL_NAME_REQUIRED,
                f"{who}: name and ID number required",
                {"visitor_index": i},
            )
        if visitor.id_type is IdType.ID_CARD and not is_valid_id_card(
            visitor.id_number, today=today
        ):
            return Denial(
                DenialCode.INVALID_ID_NUMBER,
                f"{who}: invalid ID card number",
                {"visitor_index": i, "id_number": mask_id(visitor.id_number)},
            )
        key = (visitor.id_type.value, visitor.id_number)
        if key in seen:
            return Denial(
                DenialCode.DUPLICATE_VISITOR,
                f"{who}: same ID as visitor {seen[key] + 1}",
                {"visitor_index": i, "first_index": seen[key]},
            )
        seen[key] = i
    return None


def quantity(params: QuantityParams, ctx: SaleContext) -> RuleResult:
    details = {"quantity": ctx.quantity, "min": params.min, "max": params.max}
    if ctx.quantity < params.min:
        return Denial(
            DenialCode.QUANTITY_TOO_SMALL, f"At least {params.min} tickets per order", details
        )
    if params.max is not None and ctx.quantity > params.max:
        return Denial(
            DenialCode.QUANTITY_TOO_LARGE, f"At most {params.max} tickets per order", details
        )
    return None


def per_id_daily_limit(params: PerIdDailyLimitParams, ctx: SaleContext) -> RuleResult:
    """Deny what this order alone breaks; claim the rest for the storage to enforce.

    The limit is across all channels and orders, which only the storage sees atomically,
    so an order within the limit is allowed with one `Claim` per distinct ID. Every unit
    needs an identified visitor, otherwise the limit could be dodged by leaving IDs out.
    """
    if denial := _one_visitor_per_unit(ctx):
        return denial
    counts: dict[str, int] = {}
    for i, visitor in enumerate(ctx.visitors):
        if not visitor.id_number:
            return Denial(
                DenialCode.REAL_NAME_REQUIRED,
                f"Visitor {i + 1}: ID number required",
                {"visitor_index": i},
            )
        counts[visitor.id_number] = counts.get(visitor.id_number, 0) + 1
        if counts[visitor.id_number] > params.limit:
            return Denial(
                DenialCode.ID_DAILY_LIMIT,
                f"At most {params.limit} tickets per ID per day",
                {
                    "visitor_index": i,
                    "id_number": mask_id(visitor.id_number),
                    "limit": params.limit,
                },
            )
    if params.scope == "product":
        scope = f"product:{ctx.product.id}"
    else:
        scope = f"venue:{ctx.product.venue_id}"
    day = ctx.request.travel_date
    return Allow(tuple(Claim(scope, idn, day, n, params.limit) for idn, n in counts.items()))


def booking_window(params: BookingWindowParams, ctx: SaleContext) -> RuleResult:
    """How far ahead, and how late, a travel date and slot may be booked (venue-local)."""
    local = ctx.local_now
    travel = ctx.request.travel_date
    ahead = (travel - local.date()).days
    details: dict[str, Any] = {"travel_date": travel.isoformat(), "days_ahead": ahead}
    if ahead < 0:
        return Denial(DenialCode.BOOKING_CLOSED, "Travel date has passed", details)
    if ahead < params.min_advance_days:
        n = params.min_advance_days
        return Denial(DenialCode.BOOKING_CLOSED, f"Book at least {n} day(s) ahead", details)
    if params.max_advance_days is not None and ahead > params.max_advance_days:
        n = params.max_advance_days
        return Denial(DenialCode.BOOKING_TOO_EARLY, f"Bookable at most {n} days ahead", details)
    cutoff = params.same_day_cutoff
    if ahead == 0 and cutoff is not None and local.time() >= cutoff:
        return Denial(DenialCode.BOOKING_CLOSED, f"Same-day sales closed at {_hm(cutoff)}", details)
    slot = ctx.slot
    if slot.code:
        starts = datetime.combine(travel, slot.start, tzinfo=ctx.tz)
        ends = datetime.combine(travel, slot.end, tzinfo=ctx.tz)
        details["slot"] = slot.code
        if ctx.now >= ends:
            return Denial(DenialCode.BOOKING_CLOSED, f"Slot {slot.code} has ended", details)
        if params.slot_cutoff_minutes is not None:
            closes = starts - timedelta(minutes=params.slot_cutoff_minutes)
            if ctx.now >= closes:
                return Denial(
                    DenialCode.BOOKING_CLOSED,
                    f"Sales for {slot.code} closed at {_hm(closes)}",
                    details,
                )
    return None


def usable_dates(params: UsableDatesParams, ctx: SaleContext) -> RuleResult:
    day = ctx.request.travel_date
    details = {"travel_date": day.isoformat()}
    reason: str | None = None
    if params.only is not None and day not in params.only:
        reason = f"Not sold for {day.isoformat()}"
    elif params.from_ is not None and day < params.from_:
        reason = f"Usable from {params.from_.isoformat()}"
    elif params.to is not None and day > params.to:
        reason = f"Usable until {params.to.isoformat()}"
    elif params.weekdays is not None and day.isoweekday() not in params.weekdays:
        reason = f"Not usable on {_WEEKDAYS[day.isoweekday()]}"
    elif params.except_ and day in params.except_:
        reason = f"Not usable on {day.isoformat()}"
    return Denial(DenialCode.DATE_NOT_USABLE, reason, details) if reason else None


def usable_slots(params: UsableSlotsParams, ctx: SaleContext) -> RuleResult:
    if params.allows(ctx.slot):
        return None
    details = {"slot": ctx.slot.code, "allowed": list(params.slots)}
    if not ctx.slot.code:
        return Denial(DenialCode.SLOT_NOT_USABLE, "Choose a time slot", details)
    return Denial(DenialCode.SLOT_NOT_USABLE, f"Slot {ctx.slot.code} not available", details)


def group_size(params: GroupSizeParams, ctx: SaleContext) -> RuleResult:
    details = {"size": ctx.quantity, "min": params.min, "max": params.max}
    if ctx.quantity < params.min:
        return Denial(
            DenialCode.GROUP_TOO_SMALL, f"Groups need at least {params.min} people", details
        )
    if params.max is not None and ctx.quantity > params.max:
        return Denial(
            DenialCode.QUANTITY_TOO_LARGE, f"Groups of at most {params.max} people", details
        )
    return None


def _age_reason(params: AgeParams) -> str:
    if params.max is None:
        return f"must be {params.min} or older"
    if params.min is None:
        return f"must be {params.max} or younger"
    return f"must be aged {params.min}-{params.max}"


def age(params: AgeParams, ctx: SaleContext) -> RuleResult:
    """Age on the travel date, from each visitor's ID card (inclusive min and max).

    Only a mainland ID card carries a birth date the hub can trust; a visitor without one
    cannot be age-checked and is refused rather than waved through.
    """
    if denial := _one_visitor_per_unit(ctx):
        return denial
    for i, visitor in enumerate(ctx.visitors):
        who = f"Visitor {i + 1}"
        if visitor.id_type is not IdType.ID_CARD or not visitor.id_number:
            return Denial(
                DenialCode.REAL_NAME_REQUIRED,
                f"{who}: ID card needed for age check",
                {"visitor_index": i},
            )
        if not is_valid_id_card(visitor.id_number, today=ctx.local_today):
            return Denial(
                DenialCode.INVALID_ID_NUMBER,
                f"{who}: invalid ID card number",
                {"visitor_index": i, "id_number": mask_id(visitor.id_number)},
            )
        years = age_on(visitor.id_number, ctx.request.travel_date)
        if (params.min is not None and years < params.min) or (
            params.max is not None and years > params.max
        ):
            return Denial(
                DenialCode.AGE_NOT_ELIGIBLE,
                f"{who}: {_age_reason(params)}",
                {"visitor_index": i, "age": years, "min": params.min, "max": params.max},
            )
    return None


# -- entry --------------------------------------------------------------------------------


def entries(params: EntriesParams, ctx: EntryContext) -> RuleResult:
    """Entry counts beyond the ticket's own allowance (e.g. once a day, twice in all).
    The limits are per person: a group ticket admitting N people allows N times them."""
    people = max(1, ctx.ticket.units)
    total = params.total * people if params.total is not None else None
    per_day = params.per_day * people if params.per_day is not None else None
    if total is not None and ctx.entries_total >= total:
        return Denial(
            DenialCode.ENTRIES_EXHAUSTED,
            "No entries left on this ticket",
            {"entries_total": ctx.entries_total, "total": total},
        )
    if per_day is not None and ctx.entries_today >= per_day:
        reason = "Already entered today" if per_day == 1 else f"Only {per_day} entries per day"
        return Denial(
            DenialCode.ENTRIES_PER_DAY_EXCEEDED,
            reason,
            {"entries_today": ctx.entries_today, "per_day": per_day},
        )
    return None


def entry_window(params: EntryWindowParams, ctx: EntryContext) -> RuleResult:
    """Venue-local opening hours, [from, to); a window past midnight (from > to) wraps."""
    now = ctx.local_now.time()
    start, end = params.from_, params.to
    inside = start <= now < end if start < end else (now >= start or now < end)
    if inside:
        return None
    return Denial(
        DenialCode.OUTSIDE_ENTRY_WINDOW,
        f"Entry hours are {_hm(start)}-{_hm(end)}",
        {"from": _hm(start), "to": _hm(end), "now": _hm(now)},
    )


def slot_window(params: SlotWindowParams, ctx: EntryContext) -> RuleResult:
    """Timed tickets admit from slot start − early to slot end + late, on the valid day."""
    slot = ctx.slot
    if not slot.code:
        return None  # a whole-day ticket has no slot to keep to
    day = ctx.ticket.valid_from.astimezone(ctx.tz).date()
    opens = datetime.combine(day, slot.start, tzinfo=ctx.tz) - timedelta(
        minutes=params.early_minutes
    )
    closes = datetime.combine(day, slot.end, tzinfo=ctx.tz) + timedelta(minutes=params.late_minutes)
    details = {"slot": slot.code, "opens": opens.isoformat(), "closes": closes.isoformat()}
    if ctx.now < opens:
        return Denial(
            DenialCode.OUTSIDE_ENTRY_WINDOW, f"Too early: entry from {_hm(opens)}", details
        )
    if ctx.now >= closes:
        return Denial(
            DenialCode.OUTSIDE_ENTRY_WINDOW, f"Slot entry closed at {_hm(closes)}", details
        )
    return None


# -- registration -------------------------------------------------------------------------

SALE: frozenset[str] = frozenset({"sale"})
ENTRY: frozenset[str] = frozenset({"entry"})


@dataclass(frozen=True, slots=True)
class BuiltinCheck:
    name: str
    fn: Callable[[Any, Any], RuleResult]
    phases: frozenset[str]
    params: type[BaseModel]


BUILTIN_CHECKS: tuple[BuiltinCheck, ...] = (
    BuiltinCheck("real_name", real_name, SALE, RealNameParams),
    BuiltinCheck("quantity", quantity, SALE, QuantityParams),
    BuiltinCheck("per_id_daily_limit", per_id_daily_limit, SALE, PerIdDailyLimitParams),
    BuiltinCheck("booking_window", booking_window, SALE, BookingWindowParams),
    BuiltinCheck("usable_dates", usable_dates, SALE, UsableDatesParams),
    BuiltinCheck("usable_slots", usable_slots, SALE, UsableSlotsParams),
    BuiltinCheck("group_size", group_size, SALE, GroupSizeParams),
    BuiltinCheck("age", age, SALE, AgeParams),
    BuiltinCheck("entries", entries, ENTRY, EntriesParams),
    BuiltinCheck("entry_window", entry_window, ENTRY, EntryWindowParams),
    BuiltinCheck("slot_window", slot_window, ENTRY, SlotWindowParams),
)


def register_builtin_checks(registry: RuleRegistry, *, default: bool = True) -> None:
    """Add every built-in check; `hub.essential_plugin` calls this from its hook."""
    for check in BUILTIN_CHECKS:
        registry.add(
            check.name, check.fn, phases=check.phases, params=check.params, default=default
        )


def builtin_registry() -> RuleRegistry:
    """A registry holding only the built-ins: for pure callers and tests without pluggy."""
    registry = RuleRegistry()
    registry._set_source("hub.essential_plugin")
    register_builtin_checks(registry)
    return registry
