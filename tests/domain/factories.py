"""Factories for rule-engine tests: a venue in Asia/Shanghai, one product, valid IDs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain import (
    IdType,
    OrderLine,
    OrderRequest,
    Product,
    SlotInfo,
    Ticket,
    TicketState,
    Visitor,
)
from hub.domain.rules import (
    EntryContext,
    SaleContext,
    check_char,
)

TZ = ZoneInfo("Asia/Shanghai")


def make_id(birth: str = "19900307", region: str = "110101", seq: str = "123") -> str:
    """A valid 18-character ID number with the given birth date (YYYYMMDD)."""
    first17 = region + birth + seq
    return first17 + check_char(first17)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An aware UTC instant given as venue-local (Asia/Shanghai) wall time."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)


PRODUCT = Product(id="p1", venue_id="v1", name="Main gate", pool="main")


def visitors(n: int, **overrides: Any) -> tuple[Visitor, ...]:
    return tuple(
        Visitor(
            name=f"Visitor{i}",
            id_type=IdType.ID_CARD,
            id_number=make_id(seq=f"{i:03d}"),
            **overrides,
        )
        for i in range(n)
    )


def sale_ctx(
    *,
    quantity: int = 1,
    people: tuple[Visitor, ...] | None = None,
    travel: date = date(2026, 5, 1),
    now: datetime | None = None,
    slot: str = "",
    product: Product = PRODUCT,
    amount: int | None = None,
    channel: str = "wechat",
) -> SaleContext:
    people = visitors(quantity) if people is None else people
    request = OrderRequest(
        channel=channel,
        partner_order_id="o-1",
        lines=(OrderLine(product_id=product.id, quantity=quantity),),
        visitors=people,
        travel_date=travel,
        slot=slot,
        amount=amount,
    )
    return SaleContext(
        request=request,
        product=product,
        quantity=quantity,
        visitors=people,
        now=now or local(2026, 4, 20),
        tz=TZ,
        slot=SlotInfo.parse(slot),
    )


def ticket(
    *,
    valid_from: datetime | None = None,
    days: int = 1,
    entries_allowed: int = 1,
    entries_used: int = 0,
    state: TicketState = TicketState.VALID,
) -> Ticket:
    start = valid_from or local(2026, 5, 1, 0, 0)
    return Ticket(
        id="0123456789abcdef",
        order_id="ord-1",
        product_id=PRODUCT.id,
        venue_id=PRODUCT.venue_id,
        valid_from=start,
        valid_until=start + timedelta(days=days),
        entries_allowed=entries_allowed,
        entries_used=entries_used,
        state=state,
    )


def entry_ctx(
    *,
    tk: Ticket | None = None,
    now: datetime | None = None,
    slot: str = "",
    entries_today: int = 0,
    entries_total: int = 0,
    gate: str = "north-1",
) -> EntryContext:
    return EntryContext(
        ticket=tk or ticket(),
        product=PRODUCT,
        now=now or local(2026, 5, 1, 10, 0),
        tz=TZ,
        slot=SlotInfo.parse(slot),
        gate=gate,
        entries_today=entries_today,
        entries_total=entries_total,
    )
