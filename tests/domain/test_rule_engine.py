"""The engine itself: order, claims, deny_if data, and failures that must not pass as "yes"."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from hub.domain import Denial, DenialCode, OrderLine, OrderRequest, SlotInfo, Visitor
from hub.domain.rules import (
    Allow,
    Claim,
    RuleEngine,
    RuleEvaluationError,
    RuleRegistry,
    SaleContext,
    builtin_registry,
    entry_data,
    sale_data,
)

from .factories import PRODUCT, TZ, entry_ctx, local, make_id, sale_ctx, visitors


def test_empty_document_allows(engine: RuleEngine) -> None:
    decision = engine.evaluate_sale({}, sale_ctx())
    assert decision.allowed and decision.denial is None and decision.claims == ()


def test_first_denial_wins_in_document_order(engine: RuleEngine) -> None:
    ctx = sale_ctx(quantity=1)
    small = {"check": "quantity", "min": 2}
    custom = {"deny_if": True, "code": "RULE_DENIED", "reason": "Closed today"}
    first = engine.evaluate_sale({"sale": [small, custom]}, ctx)
    second = engine.evaluate_sale({"sale": [custom, small]}, ctx)
    assert first.denial is not None and first.denial.code == DenialCode.QUANTITY_TOO_SMALL
    assert second.denial is not None and second.denial.code == DenialCode.RULE_DENIED


def test_claims_of_every_rule_are_collected(engine: RuleEngine) -> None:
    ctx = sale_ctx(quantity=1)
    doc = {
        "sale": [
            {"check": "per_id_daily_limit", "limit": 2},
            {"check": "per_id_daily_limit", "limit": 5, "scope": "venue"},
        ]
    }
    decision = engine.evaluate_sale(engine.compile(doc), ctx)
    number = ctx.visitors[0].id_number
    assert number is not None
    assert decision.claims == (
        Claim("product:p1", number, date(2026, 5, 1), 1, 2),
        Claim("venue:v1", number, date(2026, 5, 1), 1, 5),
    )


def test_a_later_denial_drops_earlier_claims(engine: RuleEngine) -> None:
    doc = {"sale": [{"check": "per_id_daily_limit", "limit": 2}, {"deny_if": True}]}
    decision = engine.evaluate_sale(doc, sale_ctx())
    assert not decision.allowed
    assert decision.claims == ()
    assert decision.denial is not None
    assert decision.denial.reason == "Not allowed by venue rules"
    assert decision.denial.details == {"rule": "sale[1]"}


@pytest.mark.parametrize(
    ("expr", "q", "denied"),
    [
        ({"<": [{"var": "order.quantity"}, 2]}, 1, True),
        ({"<": [{"var": "order.quantity"}, 2]}, 2, False),
        ({"==": [{"var": "order.channel"}, "ctrip"]}, 1, False),
        ({"some": [{"var": "visitors"}, {"<": [{"var": "age"}, 18]}]}, 1, False),
        ({"all": [{"var": "visitors"}, {"==": [{"var": "gender"}, "F"]}]}, 1, True),  # seq 000
        ({"all": [{"var": "visitors"}, {"==": [{"var": "gender"}, "M"]}]}, 1, False),
        ({">": [{"var": "now.time"}, "09:59"]}, 1, True),  # 10:00 venue-local
        ({"==": [{"var": "order.weekday"}, 5]}, 1, True),  # 1 May 2026 is a Friday
        ({"==": [{"var": "order.days_ahead"}, 11]}, 1, True),
    ],
)
def test_deny_if_data(engine: RuleEngine, expr: Any, q: int, denied: bool) -> None:
    decision = engine.evaluate_sale({"sale": [{"deny_if": expr}]}, sale_ctx(quantity=q))
    assert decision.allowed is not denied


def test_sale_data_shape() -> None:
    woman = Visitor(name="Wu", id_number=make_id("19560501", seq="002"))
    ctx = sale_ctx(quantity=2, people=(visitors(1)[0], woman), slot="09:00-11:00", amount=500)
    data = sale_data(ctx)
    assert data["order"] == {
        "quantity": 2,
        "total_quantity": 2,
        "channel": "wechat",
        "travel_date": "2026-05-01",
        "slot": "09:00-11:00",
        "amount": 500,
        "weekday": 5,
        "days_ahead": 11,
    }
    assert data["now"] == {"date": "2026-04-20", "time": "10:00", "weekday": 1}
    assert data["product"] == {"id": "p1", "kind": "single"}
    assert data["visitors"][1] == {"index": 1, "id_type": "id_card", "age": 70, "gender": "F"}
    assert "id_number" not in str(data["visitors"])  # no personal numbers in rule data


def test_entry_data_shape() -> None:
    data = entry_data(entry_ctx(entries_today=1, entries_total=3, gate="east"))
    assert data["ticket"] == {
        "id": "0123456789abcdef",
        "product_id": "p1",
        "entries_allowed": 1,
        "entries_used": 0,
    }
    assert (data["gate"], data["entries_today"], data["entries_total"]) == ("east", 1, 3)
    assert data["now"] == {"date": "2026-05-01", "time": "10:00", "weekday": 5}


# -- failures -----------------------------------------------------------------------------


def _engine_with(fn: Any, phases: frozenset[str] = frozenset({"sale"})) -> RuleEngine:
    registry = builtin_registry()
    registry._set_source("test_plugin")
    registry.add("custom", fn, phases=phases)
    return RuleEngine(registry)


def test_a_raising_rule_is_an_evaluation_error_naming_it() -> None:
    def broken(params: Any, ctx: Any) -> None:
        raise KeyError("oops")

    engine = _engine_with(broken)
    with pytest.raises(RuleEvaluationError) as info:
        engine.evaluate_sale({"sale": [{"check": "quantity"}, {"check": "custom"}]}, sale_ctx())
    assert info.value.rule == "custom"
    assert info.value.path == "sale[1]"
    assert "KeyError" in str(info.value)


def test_a_rule_returning_nonsense_is_an_evaluation_error() -> None:
    engine = _engine_with(lambda params, ctx: True)
    with pytest.raises(RuleEvaluationError, match="expected None, Denial or Allow"):
        engine.evaluate_sale({"sale": [{"check": "custom"}]}, sale_ctx())


def test_entry_rules_cannot_return_claims() -> None:
    claim = Claim("product:p1", "x", date(2026, 5, 1), 1, 1)
    engine = _engine_with(lambda params, ctx: Allow((claim,)), frozenset({"entry"}))
    with pytest.raises(RuleEvaluationError, match="sale-phase"):
        engine.evaluate_entry({"entry": [{"check": "custom"}]}, entry_ctx())


def test_a_rule_for_both_phases_gets_each_context() -> None:
    seen: list[str] = []

    def both(params: Any, ctx: Any) -> Denial | None:
        seen.append(type(ctx).__name__)
        return None

    engine = _engine_with(both, frozenset({"sale", "entry"}))
    doc = {"sale": [{"check": "custom"}], "entry": [{"check": "custom"}]}
    assert engine.evaluate_sale(doc, sale_ctx()).allowed
    assert engine.evaluate_entry(doc, entry_ctx()).allowed
    assert seen == ["SaleContext", "EntryContext"]


def test_a_naive_now_is_refused(engine: RuleEngine) -> None:
    ctx = sale_ctx()
    naive = SaleContext(
        request=ctx.request,
        product=ctx.product,
        quantity=ctx.quantity,
        visitors=ctx.visitors,
        now=datetime(2026, 4, 20, 10, 0),
        tz=TZ,
        slot=ctx.slot,
    )
    with pytest.raises(RuleEvaluationError, match="aware"):
        engine.evaluate_sale({}, naive)


def test_registry_is_not_shared_between_engines() -> None:
    bare = RuleEngine(RuleRegistry())
    with pytest.raises(Exception, match="unknown check 'quantity'"):
        bare.compile({"sale": [{"check": "quantity"}]})


# -- multi-line requests ------------------------------------------------------------------


def test_for_line_gives_each_line_its_own_visitors(engine: RuleEngine) -> None:
    people = visitors(4)
    request = OrderRequest(
        channel="ctrip",
        partner_order_id="c-9",
        lines=(OrderLine(product_id="p1", quantity=2), OrderLine(product_id="p2", quantity=1)),
        visitors=people,
        travel_date=date(2026, 5, 1),
    )
    kwargs: dict[str, Any] = {"now": local(2026, 4, 20), "tz": TZ, "slot": SlotInfo()}
    first = SaleContext.for_line(request, 0, PRODUCT, **kwargs)
    last = SaleContext.for_line(request, 1, PRODUCT, **kwargs)
    assert (first.quantity, first.visitors) == (2, people[:2])
    # the surplus fourth visitor lands on the last line, where real_name catches it
    assert (last.quantity, last.visitors) == (1, people[2:])
    doc = {"sale": [{"check": "real_name"}]}
    assert engine.evaluate_sale(doc, first).allowed
    denial = engine.evaluate_sale(doc, last).denial
    assert denial is not None and denial.code == DenialCode.VISITOR_COUNT_MISMATCH
