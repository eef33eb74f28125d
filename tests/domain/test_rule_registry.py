from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from hub.domain import Denial, DenialCode
from hub.domain.rules import NoParams, RuleEngine, RuleRegistry, RuleRegistryError
from hub.domain.rules.builtin import BUILTIN_CHECKS
from hub.hookspecs import hookimpl
from hub.plugins import build_plugins

from .factories import sale_ctx


def _allow(params: Any, ctx: Any) -> None:
    return None


def _deny(params: Any, ctx: Any) -> Denial:
    return Denial(DenialCode.RULE_DENIED, "custom says no")


def _registry(source: str = "a") -> RuleRegistry:
    registry = RuleRegistry()
    registry._set_source(source)
    return registry


def test_add_get_contains_names() -> None:
    registry = _registry("plugin_x")
    registry.add("zeta", _allow)
    registry.add("alpha", _allow, phases=frozenset({"sale", "entry"}))
    assert "zeta" in registry and "nope" not in registry
    assert registry.names() == ["alpha", "zeta"]
    rule = registry.get("alpha")
    assert rule.name == "alpha"
    assert rule.fn is _allow
    assert rule.phases == frozenset({"sale", "entry"})
    assert rule.params is NoParams  # no params model: extra keys are refused
    assert rule.source == "plugin_x"


def test_get_unknown_names_the_rule() -> None:
    with pytest.raises(RuleRegistryError, match="'ghost'"):
        _registry().get("ghost")


def test_non_default_overrides_default_in_either_order() -> None:
    first = _registry("builtin")
    first.add("age", _allow, default=True)
    first._set_source("venue_plugin")
    first.add("age", _deny)
    assert first.get("age").fn is _deny
    assert first.get("age").source == "venue_plugin"

    second = _registry("venue_plugin")
    second.add("age", _deny)
    second._set_source("builtin")
    second.add("age", _allow, default=True)  # loaded later, still loses
    assert second.get("age").fn is _deny


def test_two_non_default_registrations_name_both_sources() -> None:
    registry = _registry("plugin_one")
    registry.add("age", _allow)
    registry._set_source("plugin_two")
    with pytest.raises(RuleRegistryError) as info:
        registry.add("age", _deny)
    assert "plugin_one" in str(info.value) and "plugin_two" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "", "fn": _allow}, "invalid rule name"),
        ({"name": "deny_if", "fn": _allow}, "invalid rule name"),
        ({"name": "x", "fn": "not callable"}, "not callable"),
        ({"name": "x", "fn": _allow, "phases": frozenset()}, "phases"),
        ({"name": "x", "fn": _allow, "phases": frozenset({"gate"})}, "phases"),
        ({"name": "x", "fn": _allow, "params": dict}, "pydantic model"),
    ],
)
def test_bad_registrations_are_refused(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(RuleRegistryError, match=words):
        _registry().add(**kwargs)


def test_builtin_rules_plugin_registers_every_builtin_as_default() -> None:
    rules = build_plugins(load_entry_points=False).rules
    expected = {
        "real_name", "quantity", "per_id_daily_limit", "booking_window", "usable_dates",
        "usable_slots", "group_size", "age", "entries", "entry_window", "slot_window",
    }  # fmt: skip
    assert set(rules.names()) == expected == {c.name for c in BUILTIN_CHECKS}
    for name in expected:
        rule = rules.get(name)
        assert rule.default, name
        assert rule.source == "hub.essential_plugin"
    assert rules.get("entries").phases == frozenset({"entry"})
    assert rules.get("age").phases == frozenset({"sale"})


class _MinAgeParams(BaseModel):
    years: int


class _VenuePlugin:
    """A third-party plugin replacing the built-in `age` check."""

    @hookimpl
    def register_rules(self, registry: RuleRegistry) -> None:
        def strict_age(params: _MinAgeParams, ctx: Any) -> Denial | None:
            return Denial(DenialCode.AGE_NOT_ELIGIBLE, f"Venue rule: {params.years}+")

        registry.add("age", strict_age, params=_MinAgeParams)


def test_a_plugin_overrides_a_builtin_through_the_plugin_manager() -> None:
    plugins = build_plugins(load_entry_points=False, extra=[_VenuePlugin()])
    rule = plugins.rules.get("age")
    assert not rule.default
    decision = RuleEngine(plugins.rules).evaluate_sale(
        {"sale": [{"check": "age", "years": 18}]}, sale_ctx()
    )
    assert decision.denial is not None
    assert decision.denial.reason == "Venue rule: 18+"
