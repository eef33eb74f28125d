"""`hub.domain.takeback`: the one way every channel picks the tickets a cancel or refund
takes back (Ctrip's cancel by quantity and Meituan's refundQuantity both use it)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.domain import Denial, DenialCode, Order, OrderLine, OrderState, Ticket, TicketState
from hub.domain.takeback import take_admissions, take_all

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def ticket(n: int, *, visitor: int | None, units: int = 1, **kw: Any) -> Ticket:
    return Ticket(
        id=f"t{n}",
        order_id="o1",
        product_id="p1",
        venue_id="v1",
        visitor_index=visitor,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=1),
        units=units,
        entries_allowed=units,
        **kw,
    )


def order(*tickets: Ticket) -> Order:
    return Order(
        id="o1",
        channel="ctrip",
        partner_order_id="P1",
        venue_id="v1",
        state=OrderState.CONFIRMED,
        travel_date=date(2026, 5, 1),
        lines=(OrderLine(product_id="p1", quantity=sum(t.units for t in tickets)),),
        created_at=NOW,
        tickets=tickets,
    )


def take(o: Order, quantity: Any) -> list[str] | Denial:
    return take_admissions(o, quantity, field="quantity", verb="cancel")


def code(result: list[str] | Denial) -> DenialCode:
    assert isinstance(result, Denial), result
    return result.code


def test_the_last_visitors_give_theirs_back_first() -> None:
    o = order(*(ticket(i, visitor=i) for i in range(4)))
    assert take(o, 1) == ["t3"]
    assert take(o, "2") == ["t2", "t3"]  # partners send numbers as text too
    assert take(o, 4) == ["t0", "t1", "t2", "t3"]


def test_used_and_revoked_tickets_are_never_taken() -> None:
    o = order(
        ticket(0, visitor=0),
        ticket(1, visitor=1),
        ticket(2, visitor=2, entries_used=1, state=TicketState.USED),
        ticket(3, visitor=3, state=TicketState.REVOKED),
    )
    assert take(o, 2) == ["t0", "t1"]
    denied = take(o, 3)  # the order holds 3 live admissions, one of them used
    assert code(denied) is DenialCode.ALREADY_REDEEMED and "Only 2 unused" in denied.reason
    assert code(take(o, 4)) is DenialCode.QUANTITY_TOO_LARGE  # more than it ever held


def test_a_group_ticket_is_taken_whole_or_not_at_all() -> None:
    o = order(ticket(0, visitor=None, units=5))
    assert take(o, 5) == ["t0"]
    assert code(take(o, 3)) is DenialCode.QUANTITY_TOO_LARGE  # would split the group
    assert code(take(o, 6)) is DenialCode.QUANTITY_TOO_LARGE


@pytest.mark.parametrize("bad", [None, "two", 0, -1, [1]])
def test_a_quantity_that_is_no_count_is_a_bad_request_naming_the_field(bad: Any) -> None:
    result = take_admissions(order(ticket(0, visitor=0)), bad, field="refundQuantity", verb="x")
    assert code(result) is DenialCode.INVALID_REQUEST and "refundQuantity" in result.reason


def test_all_is_refused_whole_when_anything_was_used() -> None:
    fresh = order(ticket(0, visitor=0), ticket(1, visitor=1), ticket(2, visitor=2))
    assert take_all(fresh, verb="refund") == ["t0", "t1", "t2"]
    partly = order(
        ticket(0, visitor=0, entries_used=1, state=TicketState.USED), ticket(1, visitor=1)
    )
    assert code(take_all(partly, verb="refund")) is DenialCode.ALREADY_REDEEMED
    gone = order(ticket(0, visitor=0, state=TicketState.REVOKED))
    denied = take_all(gone, verb="refund")
    assert code(denied) is DenialCode.INVALID_STATE and "Nothing left to refund" in denied.reason
