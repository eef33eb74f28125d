"""The ONE rule engine, shared by the hub (sale time) and the venue bridge (the gate).

Typical use::

    engine = RuleEngine(plugins.rules)           # or RuleEngine(builtin_registry())
    rules = engine.compile(product.rules)        # once per product; RuleDocumentError if bad
    decision = engine.evaluate_sale(rules, SaleContext.for_line(request, i, product, ...))
    if decision.allowed:
        ...enforce decision.claims atomically in the order's transaction...
"""

from __future__ import annotations

from hub.domain.rules.builtin import BUILTIN_CHECKS, builtin_registry, register_builtin_checks
from hub.domain.rules.context import EntryContext, SaleContext, entry_data, sale_data
from hub.domain.rules.document import CompiledRules, RuleDocumentError
from hub.domain.rules.engine import (
    EntryDecision,
    RuleEngine,
    RuleEvaluationError,
    SaleDecision,
    intrinsic_entry_denial,
)
from hub.domain.rules.idcard import age_on, birth_date, check_char, gender, is_valid_id_card
from hub.domain.rules.jsonlogic import JsonLogicError
from hub.domain.rules.registry import (
    NoParams,
    RegisteredRule,
    RuleFunction,
    RuleRegistry,
    RuleRegistryError,
)
from hub.domain.rules.results import Allow, Claim, RuleResult

__all__ = [
    "BUILTIN_CHECKS",
    "Allow",
    "Claim",
    "CompiledRules",
    "EntryContext",
    "EntryDecision",
    "JsonLogicError",
    "NoParams",
    "RegisteredRule",
    "RuleDocumentError",
    "RuleEngine",
    "RuleEvaluationError",
    "RuleFunction",
    "RuleRegistry",
    "RuleRegistryError",
    "RuleResult",
    "SaleContext",
    "SaleDecision",
    "age_on",
    "birth_date",
    "builtin_registry",
    "check_char",
    "entry_data",
    "gender",
    "intrinsic_entry_denial",
    "is_valid_id_card",
    "register_builtin_checks",
    "sale_data",
]
