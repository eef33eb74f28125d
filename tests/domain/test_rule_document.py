from __future__ import annotations

from typing import Any

import pytest

from hub.domain import DenialCode
from hub.domain.rules import CompiledRules, RuleDocumentError, RuleEngine
from hub.domain.rules.document import CheckStep, DenyIfStep
from hub.domain.rules.params import UsableDatesParams

from .factories import sale_ctx

FULL_EXAMPLE: dict[str, Any] = {
    "sale": [
        {"check": "real_name"},
        {"check": "quantity", "min": 1, "max": 5},
        {"check": "per_id_daily_limit", "limit": 2, "scope": "product"},
        {
            "check": "booking_window",
            "max_advance_days": 30,
            "min_advance_days": 0,
            "same_day_cutoff": "16:00",
            "slot_cutoff_minutes": 0,
        },
        {
            "check": "usable_dates",
            "from": "2026-01-01",
            "to": "2026-12-31",
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "except": ["2026-12-24"],
            "only": None,
        },
        {"check": "usable_slots", "slots": ["09:00-11:00"]},
        {"check": "group_size", "min": 10, "max": 60},
        {"check": "age", "min": 60, "max": None},
        {
            "deny_if": {"<": [{"var": "order.quantity"}, 2]},
            "code": "RULE_DENIED",
            "reason": "Pairs only",
        },
    ],
    "entry": [
        {"check": "entries", "per_day": 1, "total": 2},
        {"check": "entry_window", "from": "08:00", "to": "17:30"},
        {"check": "slot_window", "early_minutes": 30, "late_minutes": 60},
    ],
}


def test_the_documented_example_compiles(engine: RuleEngine) -> None:
    rules = engine.compile(FULL_EXAMPLE)
    assert isinstance(rules, CompiledRules)
    assert [s.path for s in rules.sale] == [f"sale[{i}]" for i in range(9)]
    assert [s.rule.name for s in rules.entry if isinstance(s, CheckStep)] == [
        "entries",
        "entry_window",
        "slot_window",
    ]
    dates = rules.sale[4]
    assert isinstance(dates, CheckStep) and isinstance(dates.params, UsableDatesParams)
    assert str(dates.params.from_) == "2026-01-01"
    last = rules.sale[8]
    assert isinstance(last, DenyIfStep)
    assert (last.code, last.reason) == (DenialCode.RULE_DENIED, "Pairs only")


def test_compiling_compiled_rules_is_identity(engine: RuleEngine) -> None:
    rules = engine.compile(FULL_EXAMPLE)
    assert engine.compile(rules) is rules  # type: ignore[arg-type]


@pytest.mark.parametrize("document", [{}, {"sale": []}, {"sale": None, "entry": []}])
def test_empty_documents_compile_to_nothing(engine: RuleEngine, document: Any) -> None:
    assert engine.compile(document) == CompiledRules()


@pytest.mark.parametrize(
    ("document", "path", "words"),
    [
        ([1], "", "JSON object"),
        ({"sales": []}, "sales", "unknown phase"),
        ({"sale": {"check": "quantity"}}, "sale", "list of rules"),
        ({"sale": ["quantity"]}, "sale[0]", "'check' or 'deny_if'"),
        ({"sale": [{}]}, "sale[0]", "exactly one of"),
        ({"sale": [{"check": "quantity", "deny_if": True}]}, "sale[0]", "exactly one of"),
        ({"sale": [{"check": "teleport"}]}, "sale[0].check", "unknown check 'teleport'"),
        ({"sale": [{"check": 7}]}, "sale[0].check", "unknown check"),
        ({"sale": [{"check": "entries", "per_day": 1}]}, "sale[0].check", "entry phase"),
        ({"entry": [{"check": "real_name"}]}, "entry[0].check", "sale phase"),
        (
            {
                "sale": [
                    {"check": "real_name"},
                    {"check": "quantity"},
                    {"check": "per_id_daily_limit"},
                ]
            },
            "sale[2].limit",
            "Field required",
        ),
        ({"sale": [{"check": "per_id_daily_limit", "limit": 0}]}, "sale[0].limit", "greater"),
        ({"sale": [{"check": "per_id_daily_limit", "limit": "2"}]}, "sale[0].limit", "integer"),
        (
            {"sale": [{"check": "per_id_daily_limit", "limit": 2, "scope": "world"}]},
            "sale[0].scope",
            "'product' or 'venue'",
        ),
        ({"sale": [{"check": "quantity", "maximum": 3}]}, "sale[0].maximum", "Extra inputs"),
        ({"sale": [{"check": "real_name", "strict": True}]}, "sale[0].strict", "Extra inputs"),
        ({"sale": [{"check": "quantity", "min": 5, "max": 2}]}, "sale[0]", "min must not exceed"),
        ({"sale": [{"check": "age"}]}, "sale[0]", "give min, max or both"),
        (
            {"sale": [{"check": "booking_window", "same_day_cutoff": "4pm"}]},
            "sale[0].same_day_cutoff",
            "HH:MM",
        ),
        (
            {"sale": [{"check": "usable_dates", "weekdays": [1, 8]}]},
            "sale[0].weekdays[1]",
            "less than or equal to 7",
        ),
        (
            {"sale": [{"check": "usable_dates", "except": ["2026/12/24"]}]},
            "sale[0].except[0]",
            "YYYY-MM-DD",
        ),
        (
            {"sale": [{"check": "usable_dates", "from": "2026-02-30"}]},
            "sale[0].from",
            "day is out of range",
        ),
        (
            {"sale": [{"check": "usable_dates", "from": "2026-12-01", "to": "2026-01-01"}]},
            "sale[0]",
            "'from' must not be after 'to'",
        ),
        (
            {"sale": [{"check": "usable_slots", "slots": ["11:00-09:00"]}]},
            "sale[0].slots[0]",
            "start before end",
        ),
        ({"sale": [{"check": "usable_slots", "slots": []}]}, "sale[0].slots", "at least 1"),
        (
            {"entry": [{"check": "entry_window", "from": "08:00", "to": "08:00"}]},
            "entry[0]",
            "must differ",
        ),
        (
            {"entry": [{"check": "entry_window", "from": "8:00", "to": "17:00"}]},
            "entry[0].from",
            "HH:MM",
        ),
        (
            {"sale": [{"deny_if": {"frobnicate": [1]}}]},
            "sale[0].deny_if.frobnicate",
            "unknown operator",
        ),
        (
            {"sale": [{"deny_if": {"and": [True, {"==": [1]}]}}]},
            "sale[0].deny_if.and[1].==",
            "takes 2 arguments",
        ),
        ({"sale": [{"deny_if": True, "code": "NOPE"}]}, "sale[0].code", "unknown denial code"),
        (
            {"sale": [{"deny_if": True, "code": ["RULE_DENIED"]}]},
            "sale[0].code",
            "unknown denial code",
        ),
        ({"sale": [{"deny_if": True, "reason": ""}]}, "sale[0].reason", "non-empty"),
        ({"sale": [{"deny_if": True, "reason": "x" * 81}]}, "sale[0].reason", "at most 80"),
        ({"entry": [{"deny_if": True, "message": "hi"}]}, "entry[0].message", "unknown key"),
    ],
)
def test_document_errors_name_the_field(
    engine: RuleEngine, document: Any, path: str, words: str
) -> None:
    with pytest.raises(RuleDocumentError) as info:
        engine.compile(document)
    assert info.value.path == path
    assert words in str(info.value)
    if path:
        assert str(info.value).startswith(f"{path}: ")


def test_rule_document_error_is_a_value_error() -> None:
    assert issubclass(RuleDocumentError, ValueError)


def test_evaluate_validates_raw_documents_too(engine: RuleEngine) -> None:
    with pytest.raises(RuleDocumentError):
        engine.evaluate_sale({"sale": [{"check": "nope"}]}, sale_ctx())
