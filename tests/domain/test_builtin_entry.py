"""Entry: the ticket-intrinsic checks, then each built-in entry check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.domain import DenialCode, TicketState
from hub.domain.rules import EntryContext, EntryDecision, RuleEngine

from .factories import entry_ctx, local, ticket


def code_of(decision: EntryDecision) -> DenialCode | str | None:
    return decision.denial.code if decision.denial else None


def run(engine: RuleEngine, rules: list[dict[str, Any]], ctx: EntryContext) -> EntryDecision:
    return engine.evaluate_entry({"entry": rules}, ctx)


# -- intrinsic ----------------------------------------------------------------------------


def test_a_valid_ticket_enters_with_an_empty_document(engine: RuleEngine) -> None:
    assert engine.evaluate_entry({}, entry_ctx()).allowed


@pytest.mark.parametrize(
    ("tk", "ctx_kwargs", "expected"),
    [
        (ticket(state=TicketState.REVOKED), {}, DenialCode.TICKET_REVOKED),
        (ticket(state=TicketState.USED), {}, DenialCode.ENTRIES_EXHAUSTED),
        (ticket(entries_allowed=2, entries_used=2), {}, DenialCode.ENTRIES_EXHAUSTED),
        (ticket(entries_allowed=2, entries_used=1), {}, None),
        # offline, the bridge's own count is ahead of the hub's
        (
            ticket(entries_allowed=2, entries_used=1),
            {"entries_total": 2},
            DenialCode.ENTRIES_EXHAUSTED,
        ),
        (ticket(), {"now": local(2026, 4, 30, 23, 59)}, DenialCode.NOT_VALID_TODAY),
        (ticket(), {"now": local(2026, 5, 1, 0, 0)}, None),
        (ticket(), {"now": local(2026, 5, 1, 23, 59)}, None),
        (ticket(), {"now": local(2026, 5, 2, 0, 0)}, DenialCode.NOT_VALID_TODAY),
        # revoked beats everything else, even an expired, used-up ticket
        (
            ticket(state=TicketState.REVOKED, entries_used=1),
            {"now": local(2027, 1, 1)},
            DenialCode.TICKET_REVOKED,
        ),
    ],
)
def test_intrinsic_checks(
    engine: RuleEngine, tk: Any, ctx_kwargs: dict[str, Any], expected: DenialCode | None
) -> None:
    decision = engine.evaluate_entry({}, entry_ctx(tk=tk, **ctx_kwargs))
    assert code_of(decision) == expected


def test_intrinsic_checks_run_before_the_document(engine: RuleEngine) -> None:
    revoked = entry_ctx(tk=ticket(state=TicketState.REVOKED))
    rules = [{"deny_if": True, "code": "WRONG_VENUE", "reason": "Other gate"}]
    assert code_of(run(engine, rules, revoked)) == DenialCode.TICKET_REVOKED
    assert code_of(run(engine, rules, entry_ctx())) == DenialCode.WRONG_VENUE


def test_expired_and_early_reasons_differ(engine: RuleEngine) -> None:
    early = engine.evaluate_entry({}, entry_ctx(now=local(2026, 4, 30, 12, 0))).denial
    late = engine.evaluate_entry({}, entry_ctx(now=local(2026, 5, 3, 12, 0))).denial
    assert early is not None and late is not None
    assert early.reason == "Ticket not valid yet"
    assert late.reason == "Ticket has expired"


# -- entries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "total", "expected"),
    [
        (0, 0, None),
        (1, 1, DenialCode.ENTRIES_PER_DAY_EXCEEDED),
        (0, 1, None),
        (0, 2, DenialCode.ENTRIES_EXHAUSTED),
        (1, 2, DenialCode.ENTRIES_EXHAUSTED),  # total is the more final refusal
    ],
)
def test_entries(engine: RuleEngine, today: int, total: int, expected: DenialCode | None) -> None:
    tk = ticket(days=3, entries_allowed=10)
    ctx = entry_ctx(tk=tk, entries_today=today, entries_total=total)
    decision = run(engine, [{"check": "entries", "per_day": 1, "total": 2}], ctx)
    assert code_of(decision) == expected


def test_entries_per_day_reason(engine: RuleEngine) -> None:
    tk = ticket(entries_allowed=10)
    once = run(engine, [{"check": "entries", "per_day": 1}], entry_ctx(tk=tk, entries_today=1))
    twice = run(engine, [{"check": "entries", "per_day": 2}], entry_ctx(tk=tk, entries_today=2))
    assert once.denial is not None and once.denial.reason == "Already entered today"
    assert twice.denial is not None and twice.denial.reason == "Only 2 entries per day"


# -- entry_window -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "now", "ok"),
    [
        (("08:00", "17:30"), local(2026, 5, 1, 7, 59), False),
        (("08:00", "17:30"), local(2026, 5, 1, 8, 0), True),
        (("08:00", "17:30"), local(2026, 5, 1, 17, 29), True),
        (("08:00", "17:30"), local(2026, 5, 1, 17, 30), False),
        # a night show across midnight
        (("18:00", "02:00"), local(2026, 5, 1, 23, 0), True),
        (("18:00", "02:00"), local(2026, 5, 1, 1, 59), True),
        (("18:00", "02:00"), local(2026, 5, 1, 12, 0), False),
    ],
)
def test_entry_window_is_venue_local(
    engine: RuleEngine, window: tuple[str, str], now: datetime, ok: bool
) -> None:
    rule = {"check": "entry_window", "from": window[0], "to": window[1]}
    decision = run(engine, [rule], entry_ctx(now=now))
    assert code_of(decision) == (None if ok else DenialCode.OUTSIDE_ENTRY_WINDOW)


def test_entry_window_reason_shows_the_hours(engine: RuleEngine) -> None:
    # 23:00 UTC is 07:00 the next morning in Shanghai: before opening.
    now = datetime(2026, 4, 30, 23, 0, tzinfo=UTC)
    rule = {"check": "entry_window", "from": "08:00", "to": "17:30"}
    decision = run(engine, [rule], entry_ctx(now=now))
    assert decision.denial is not None
    assert decision.denial.reason == "Entry hours are 08:00-17:30"
    assert decision.denial.details["now"] == "07:00"


# -- slot_window --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (local(2026, 5, 1, 8, 29), False),
        (local(2026, 5, 1, 8, 30), True),  # 30 minutes early is fine
        (local(2026, 5, 1, 11, 59), True),  # up to an hour late
        (local(2026, 5, 1, 12, 0), False),
    ],
)
def test_slot_window(engine: RuleEngine, now: datetime, ok: bool) -> None:
    rule = {"check": "slot_window", "early_minutes": 30, "late_minutes": 60}
    decision = run(engine, [rule], entry_ctx(now=now, slot="09:00-11:00"))
    assert code_of(decision) == (None if ok else DenialCode.OUTSIDE_ENTRY_WINDOW)


def test_slot_window_whole_day_slot_is_unrestricted(engine: RuleEngine) -> None:
    rule = {"check": "slot_window"}
    assert run(engine, [rule], entry_ctx(now=local(2026, 5, 1, 23, 30), slot="")).allowed


def test_slot_window_uses_the_tickets_valid_day(engine: RuleEngine) -> None:
    # A two-day ticket with a slot: the slot is on its first day only.
    tk = ticket(days=2)
    rule = {"check": "slot_window", "late_minutes": 0}
    ctx = entry_ctx(tk=tk, now=local(2026, 5, 2, 10, 0), slot="09:00-11:00")
    decision = run(engine, [rule], ctx)
    assert code_of(decision) == DenialCode.OUTSIDE_ENTRY_WINDOW
    assert decision.denial is not None
    assert decision.denial.reason == "Slot entry closed at 11:00"


# -- deny_if at the gate ------------------------------------------------------------------


def test_entry_deny_if_sees_gate_and_counts(engine: RuleEngine) -> None:
    rules = [
        {
            "deny_if": {
                "and": [{"==": [{"var": "gate"}, "vip"]}, {">": [{"var": "entries_today"}, 0]}]
            },
            "code": "OUTSIDE_ENTRY_WINDOW",
            "reason": "VIP lane: first entry only",
        }
    ]
    tk = ticket(entries_allowed=5)
    assert run(engine, rules, entry_ctx(tk=tk, gate="vip")).allowed
    assert run(engine, rules, entry_ctx(tk=tk, gate="north", entries_today=1)).allowed
    decision = run(engine, rules, entry_ctx(tk=tk, gate="vip", entries_today=1))
    assert code_of(decision) == DenialCode.OUTSIDE_ENTRY_WINDOW
    assert decision.denial is not None
    assert decision.denial.reason == "VIP lane: first entry only"
