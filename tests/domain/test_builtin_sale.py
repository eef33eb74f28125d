"""Every built-in sale check: the allow path and each deny path with its exact code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.domain import DenialCode, IdType, Visitor
from hub.domain.rules import Claim, RuleEngine, SaleContext, SaleDecision

from .factories import local, make_id, sale_ctx, visitors

TRAVEL = date(2026, 5, 1)


def run(engine: RuleEngine, rule: dict[str, Any], ctx: SaleContext) -> SaleDecision:
    return engine.evaluate_sale({"sale": [rule]}, ctx)


def code_of(decision: SaleDecision) -> DenialCode | str | None:
    return decision.denial.code if decision.denial else None


def person(born: str = "19900307", seq: str = "001", **kw: Any) -> Visitor:
    return Visitor(**{"name": "Li", "id_number": make_id(born, seq=seq), **kw})


# -- real_name ----------------------------------------------------------------------------

REAL_NAME = {"check": "real_name"}


def test_real_name_allows_one_valid_visitor_per_unit(engine: RuleEngine) -> None:
    decision = run(engine, REAL_NAME, sale_ctx(quantity=3))
    assert decision.allowed and decision.claims == ()


def test_real_name_needs_a_visitor_per_unit(engine: RuleEngine) -> None:
    decision = run(engine, REAL_NAME, sale_ctx(quantity=2, people=visitors(1)))
    assert code_of(decision) == DenialCode.VISITOR_COUNT_MISMATCH
    assert decision.denial is not None
    assert decision.denial.details == {"expected": 2, "visitors": 1}


@pytest.mark.parametrize("missing", [{"name": ""}, {"id_number": None}])
def test_real_name_needs_name_and_id(engine: RuleEngine, missing: dict[str, Any]) -> None:
    people = (person(seq="001"), person(seq="002", **missing))
    decision = run(engine, REAL_NAME, sale_ctx(quantity=2, people=people))
    assert code_of(decision) == DenialCode.REAL_NAME_REQUIRED
    assert decision.denial is not None
    assert decision.denial.details == {"visitor_index": 1}
    assert "Visitor 2" in decision.denial.reason


def test_real_name_rejects_a_bad_id_card_without_leaking_it(engine: RuleEngine) -> None:
    good = make_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    decision = run(engine, REAL_NAME, sale_ctx(people=(person(id_number=bad),)))
    assert code_of(decision) == DenialCode.INVALID_ID_NUMBER
    assert decision.denial is not None
    assert bad not in decision.denial.reason
    assert decision.denial.details["id_number"] == bad[:4] + "*" * 10 + bad[-4:]
    assert len(decision.denial.reason) <= 60


def test_real_name_judges_birth_dates_by_the_venue_local_day(engine: RuleEngine) -> None:
    # 16:30 UTC on 19 April is already 00:30 on 20 April in Shanghai.
    now = datetime(2026, 4, 19, 16, 30, tzinfo=UTC)
    newborn = (person(born="20260420"),)
    assert run(engine, REAL_NAME, sale_ctx(people=newborn, now=now)).allowed
    tomorrow = (person(born="20260421"),)
    decision = run(engine, REAL_NAME, sale_ctx(people=tomorrow, now=now))
    assert code_of(decision) == DenialCode.INVALID_ID_NUMBER


def test_real_name_does_not_apply_the_id_card_algorithm_to_passports(engine: RuleEngine) -> None:
    people = (Visitor(name="Ann", id_type=IdType.PASSPORT, id_number="E12345678"),)
    assert run(engine, REAL_NAME, sale_ctx(people=people)).allowed


def test_real_name_refuses_the_same_id_twice(engine: RuleEngine) -> None:
    people = (person(seq="001"), person(seq="002"), person(seq="001"))
    decision = run(engine, REAL_NAME, sale_ctx(quantity=3, people=people))
    assert code_of(decision) == DenialCode.DUPLICATE_VISITOR
    assert decision.denial is not None
    assert decision.denial.details == {"visitor_index": 2, "first_index": 0}


# -- quantity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [(1, DenialCode.QUANTITY_TOO_SMALL), (2, None), (5, None), (6, DenialCode.QUANTITY_TOO_LARGE)],
)
def test_quantity(engine: RuleEngine, q: int, expected: DenialCode | None) -> None:
    decision = run(engine, {"check": "quantity", "min": 2, "max": 5}, sale_ctx(quantity=q))
    assert code_of(decision) == expected


# -- per_id_daily_limit -------------------------------------------------------------------


def test_per_id_limit_allows_and_claims_one_per_distinct_id(engine: RuleEngine) -> None:
    a, b = make_id(seq="001"), make_id(seq="002")
    people = (person(id_number=a), person(id_number=b), person(id_number=a))
    rule = {"check": "per_id_daily_limit", "limit": 2}
    decision = run(engine, rule, sale_ctx(quantity=3, people=people))
    assert decision.allowed
    assert decision.claims == (
        Claim(scope="product:p1", id_number=a, day=TRAVEL, amount=2, limit=2),
        Claim(scope="product:p1", id_number=b, day=TRAVEL, amount=1, limit=2),
    )


def test_per_id_limit_venue_scope(engine: RuleEngine) -> None:
    rule = {"check": "per_id_daily_limit", "limit": 1, "scope": "venue"}
    decision = run(engine, rule, sale_ctx(quantity=1))
    assert [c.scope for c in decision.claims] == ["venue:v1"]


def test_per_id_limit_denies_what_this_order_alone_exceeds(engine: RuleEngine) -> None:
    same = make_id(seq="007")
    people = tuple(person(id_number=same) for _ in range(3))
    decision = run(
        engine, {"check": "per_id_daily_limit", "limit": 2}, sale_ctx(quantity=3, people=people)
    )
    assert code_of(decision) == DenialCode.ID_DAILY_LIMIT
    assert decision.denial is not None and decision.claims == ()
    assert decision.denial.details["visitor_index"] == 2
    assert same not in str(decision.denial.details) and same not in decision.denial.reason


def test_per_id_limit_needs_every_unit_identified(engine: RuleEngine) -> None:
    rule = {"check": "per_id_daily_limit", "limit": 2}
    short = run(engine, rule, sale_ctx(quantity=2, people=visitors(1)))
    assert code_of(short) == DenialCode.VISITOR_COUNT_MISMATCH
    anonymous = (person(), Visitor(name="No ID"))
    missing = run(engine, rule, sale_ctx(quantity=2, people=anonymous))
    assert code_of(missing) == DenialCode.REAL_NAME_REQUIRED


# -- booking_window -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "travel", "now", "expected"),
    [
        ({}, date(2026, 4, 30), local(2026, 5, 1, 0, 30), DenialCode.BOOKING_CLOSED),
        ({}, date(2026, 5, 1), local(2026, 5, 1, 0, 30), None),
        ({"max_advance_days": 30}, date(2026, 5, 20), local(2026, 4, 20), None),
        (
            {"max_advance_days": 30},
            date(2026, 5, 21),
            local(2026, 4, 20),
            DenialCode.BOOKING_TOO_EARLY,
        ),
        ({"min_advance_days": 1}, date(2026, 4, 20), local(2026, 4, 20), DenialCode.BOOKING_CLOSED),
        ({"min_advance_days": 1}, date(2026, 4, 21), local(2026, 4, 20, 23, 59), None),
        ({"same_day_cutoff": "16:00"}, date(2026, 4, 20), local(2026, 4, 20, 15, 59), None),
        (
            {"same_day_cutoff": "16:00"},
            date(2026, 4, 20),
            local(2026, 4, 20, 16, 0),
            DenialCode.BOOKING_CLOSED,
        ),
        ({"same_day_cutoff": "16:00"}, date(2026, 4, 21), local(2026, 4, 20, 18, 0), None),
    ],
)
def test_booking_window_days(
    engine: RuleEngine,
    params: dict[str, Any],
    travel: date,
    now: datetime,
    expected: DenialCode | None,
) -> None:
    decision = run(engine, {"check": "booking_window", **params}, sale_ctx(travel=travel, now=now))
    assert code_of(decision) == expected


def test_booking_window_uses_the_venue_local_day_not_utc(engine: RuleEngine) -> None:
    # 16:30 UTC on 30 April is 00:30 on 1 May in Shanghai: 30 April has passed there.
    now = datetime(2026, 4, 30, 16, 30, tzinfo=UTC)
    decision = run(engine, {"check": "booking_window"}, sale_ctx(travel=date(2026, 4, 30), now=now))
    assert code_of(decision) == DenialCode.BOOKING_CLOSED


@pytest.mark.parametrize(
    ("cutoff", "now", "expected"),
    [
        (None, local(2026, 5, 1, 10, 59), None),  # buying into a running slot
        (None, local(2026, 5, 1, 11, 0), DenialCode.BOOKING_CLOSED),  # slot over
        (0, local(2026, 5, 1, 8, 59), None),
        (0, local(2026, 5, 1, 9, 0), DenialCode.BOOKING_CLOSED),
        (30, local(2026, 5, 1, 8, 29), None),
        (30, local(2026, 5, 1, 8, 30), DenialCode.BOOKING_CLOSED),
        (1440, local(2026, 4, 30, 8, 59), None),  # a day ahead
        (1440, local(2026, 4, 30, 9, 0), DenialCode.BOOKING_CLOSED),
    ],
)
def test_booking_window_slot_cutoff(
    engine: RuleEngine, cutoff: int | None, now: datetime, expected: DenialCode | None
) -> None:
    rule: dict[str, Any] = {"check": "booking_window", "slot_cutoff_minutes": cutoff}
    decision = run(engine, rule, sale_ctx(travel=TRAVEL, now=now, slot="09:00-11:00"))
    assert code_of(decision) == expected


# -- usable_dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "travel", "ok"),
    [
        ({"from": "2026-05-01"}, date(2026, 5, 1), True),
        ({"from": "2026-05-02"}, date(2026, 5, 1), False),
        ({"to": "2026-05-01"}, date(2026, 5, 1), True),
        ({"to": "2026-04-30"}, date(2026, 5, 1), False),
        ({"weekdays": [5]}, date(2026, 5, 1), True),  # 1 May 2026 is a Friday
        ({"weekdays": [6, 7]}, date(2026, 5, 1), False),
        ({"except": ["2026-05-01"]}, date(2026, 5, 1), False),
        ({"except": ["2026-05-02"]}, date(2026, 5, 1), True),
        ({"only": ["2026-05-01", "2026-10-01"]}, date(2026, 10, 1), True),
        ({"only": ["2026-05-01"]}, date(2026, 5, 2), False),
        ({"only": None, "except": None}, date(2026, 5, 2), True),
    ],
)
def test_usable_dates(engine: RuleEngine, params: dict[str, Any], travel: date, ok: bool) -> None:
    now = local(2026, 4, 1)
    decision = run(engine, {"check": "usable_dates", **params}, sale_ctx(travel=travel, now=now))
    assert code_of(decision) == (None if ok else DenialCode.DATE_NOT_USABLE)


def test_usable_dates_reason_names_the_weekday(engine: RuleEngine) -> None:
    decision = run(engine, {"check": "usable_dates", "weekdays": [1, 2, 3, 4]}, sale_ctx())
    assert decision.denial is not None
    assert decision.denial.reason == "Not usable on Fridays"


# -- usable_slots -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slots", "requested", "ok"),
    [
        (["09:00-11:00", "13:00-15:00"], "09:00-11:00", True),
        (["09:00-11:00"], "09:00:00-11:00:00", True),  # same times, other spelling
        (["09:00-11:00"], "13:00-15:00", False),
        (["09:00-11:00"], "", False),
        (["", "09:00-11:00"], "", True),
    ],
)
def test_usable_slots(engine: RuleEngine, slots: list[str], requested: str, ok: bool) -> None:
    decision = run(engine, {"check": "usable_slots", "slots": slots}, sale_ctx(slot=requested))
    assert code_of(decision) == (None if ok else DenialCode.SLOT_NOT_USABLE)


# -- group_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [(9, DenialCode.GROUP_TOO_SMALL), (10, None), (60, None), (61, DenialCode.QUANTITY_TOO_LARGE)],
)
def test_group_size(engine: RuleEngine, size: int, expected: DenialCode | None) -> None:
    rule = {"check": "group_size", "min": 10, "max": 60}
    assert code_of(run(engine, rule, sale_ctx(quantity=size, people=()))) == expected


# -- age ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "born", "ok"),
    [
        ({"min": 60}, "19660501", True),  # 60th birthday on the travel date
        ({"min": 60}, "19660502", False),  # 59 on the travel date
        ({"max": 18}, "20070502", True),  # still 18
        ({"max": 18}, "20070501", False),  # 19 on the travel date
        ({"min": 6, "max": 18}, "20200501", True),
        ({"min": 6, "max": 18}, "20200502", False),
        ({"min": 0, "max": 0}, "20260101", True),
        ({"min": 0, "max": 0}, "20250501", False),
    ],
)
def test_age_on_the_travel_date(
    engine: RuleEngine, params: dict[str, Any], born: str, ok: bool
) -> None:
    # The first visitor always qualifies: the denial must point at the second one.
    companion = person(born="20260101" if params.get("max") == 0 else "20150101", seq="001")
    if "max" not in params:
        companion = person(born="19500101", seq="001")
    people = (companion, person(born=born, seq="002"))
    decision = run(engine, {"check": "age", **params}, sale_ctx(quantity=2, people=people))
    if ok:
        assert decision.allowed
    else:
        assert code_of(decision) == DenialCode.AGE_NOT_ELIGIBLE
        assert decision.denial is not None
        assert decision.denial.details["visitor_index"] == 1
        assert decision.denial.reason.startswith("Visitor 2: must be")


def test_age_cannot_check_a_visitor_without_an_id_card(engine: RuleEngine) -> None:
    passport = (Visitor(name="Ann", id_type=IdType.PASSPORT, id_number="E12345678"),)
    decision = run(engine, {"check": "age", "min": 60}, sale_ctx(people=passport))
    assert code_of(decision) == DenialCode.REAL_NAME_REQUIRED
    no_number = (Visitor(name="Bo"),)
    decision = run(engine, {"check": "age", "min": 60}, sale_ctx(people=no_number))
    assert code_of(decision) == DenialCode.REAL_NAME_REQUIRED


def test_age_rejects_an_invalid_id_card(engine: RuleEngine) -> None:
    broken = (person(id_number="110105194912310021"),)
    decision = run(engine, {"check": "age", "min": 60}, sale_ctx(people=broken))
    assert code_of(decision) == DenialCode.INVALID_ID_NUMBER


# -- reasons ------------------------------------------------------------------------------


def test_every_builtin_sale_reason_is_short(engine: RuleEngine) -> None:
    ctx = sale_ctx(quantity=61, people=(), slot="09:00-11:00", now=local(2026, 5, 1, 12, 0))
    rules: list[dict[str, Any]] = [
        {"check": "real_name"},
        {"check": "quantity", "max": 1},
        {"check": "booking_window", "slot_cutoff_minutes": 0},
        {"check": "usable_dates", "weekdays": [3]},
        {"check": "usable_slots", "slots": ["13:00-15:00"]},
        {"check": "group_size", "max": 60},
        {"check": "age", "min": 1},
    ]
    for rule in rules:
        decision = run(engine, rule, ctx)
        assert decision.denial is not None, rule
        assert 0 < len(decision.denial.reason) <= 60, decision.denial.reason
