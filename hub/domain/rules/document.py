"""Rule documents: the JSON a product stores, compiled once into steps the engine runs.

Everything that can be wrong with a document is found here, when the product is saved or
a bridge receives it, and reported with the path of the offending field (``sale[2].limit``)
so a venue operator can fix it; the engine then never meets a malformed rule at a gate.

Shape::

    {"sale":  [{"check": "<name>", ...params},
               {"deny_if": <JSONLogic>, "code": "<DenialCode>", "reason": "<text>"}],
     "entry": [...same...]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError

from hub.domain.errors import DenialCode
from hub.domain.rules.jsonlogic import Evaluator, JsonLogicError, compile_logic
from hub.domain.rules.registry import RegisteredRule, RuleRegistry

PHASE_NAMES: tuple[str, ...] = ("sale", "entry")
DEFAULT_DENY_REASON = "Not allowed by venue rules"
MAX_REASON_CHARS = 80  # a turnstile display or a partner message, not an essay
_DENY_IF_KEYS = frozenset({"deny_if", "code", "reason"})


class RuleDocumentError(ValueError):
    """A rule document that cannot be compiled; `path` names the field (``sale[2].limit``)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class CheckStep:
    """A registered check with its validated parameters."""

    path: str  # where it came from, e.g. "sale[3]"
    rule: RegisteredRule
    params: BaseModel


@dataclass(frozen=True, slots=True)
class DenyIfStep:
    """A JSONLogic condition that denies when truthy."""

    path: str
    logic: Evaluator
    code: DenialCode
    reason: str


Step: TypeAlias = CheckStep | DenyIfStep


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """A validated rule document: compile once per product, evaluate per order or scan."""

    sale: tuple[Step, ...] = ()
    entry: tuple[Step, ...] = ()


def _loc_path(base: str, loc: tuple[int | str, ...]) -> str:
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _compile_check(item: Mapping[str, Any], phase: str, path: str, registry: RuleRegistry) -> Step:
    name = item["check"]
    if not isinstance(name, str) or name not in registry:
        known = ", ".join(registry.names()) or "none"
        raise RuleDocumentError(f"unknown check {name!r} (known: {known})", f"{path}.check")
    rule = registry.get(name)
    if phase not in rule.phases:
        allowed = " and ".join(sorted(rule.phases))
        raise RuleDocumentError(
            f"check {name!r} belongs to the {allowed} phase, not {phase}", f"{path}.check"
        )
    raw = {k: v for k, v in item.items() if k != "check"}
    try:
        params = rule.params.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = _loc_path(path, tuple(first["loc"]))
        others = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RuleDocumentError(f"{name}: {first['msg']}{others}", where) from None
    return CheckStep(path, rule, params)


def _compile_deny_if(item: Mapping[str, Any], path: str) -> Step:
    for key in item:
        if key not in _DENY_IF_KEYS:
            raise RuleDocumentError(
                f"unknown key {key!r} (a deny_if rule has deny_if, code, reason)", f"{path}.{key}"
            )
    try:
        logic = compile_logic(item["deny_if"], path=f"{path}.deny_if")
    except JsonLogicError as exc:
        raise RuleDocumentError(exc.message, exc.path) from None
    code = item.get("code", DenialCode.RULE_DENIED.value)
    try:
        denial_code = DenialCode(code)
    except ValueError:
        raise RuleDocumentError(f"unknown denial code {code!r}", f"{path}.code") from None
    reason = item.get("reason", DEFAULT_DENY_REASON)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise RuleDocumentError(
            f"reason must be non-empty text of at most {MAX_REASON_CHARS} characters",
            f"{path}.reason",
        )
    return DenyIfStep(path, logic, denial_code, reason.strip())


def _compile_item(item: Any, phase: str, path: str, registry: RuleRegistry) -> Step:
    if not isinstance(item, Mapping):
        raise RuleDocumentError("a rule is an object with 'check' or 'deny_if'", path)
    if ("check" in item) == ("deny_if" in item):
        raise RuleDocumentError("a rule has exactly one of 'check' or 'deny_if'", path)
    if "check" in item:
        return _compile_check(item, phase, path, registry)
    return _compile_deny_if(item, path)


def compile_document(
    document: Mapping[str, Any] | CompiledRules, registry: RuleRegistry
) -> CompiledRules:
    """Validate `document` against the checks in `registry`; raises `RuleDocumentError`."""
    if isinstance(document, CompiledRules):
        return document
    if not isinstance(document, Mapping):
        raise RuleDocumentError("a rule document is a JSON object")
    for key in document:
        if key not in PHASE_NAMES:
            raise RuleDocumentError(f"unknown phase {key!r} (expected sale or entry)", str(key))
    phases: dict[str, tuple[Step, ...]] = {}
    for phase in PHASE_NAMES:
        items = document.get(phase)
        if items is None:
            items = []
        if not isinstance(items, list | tuple):
            raise RuleDocumentError("must be a list of rules", phase)
        phases[phase] = tuple(
            _compile_item(item, phase, f"{phase}[{i}]", registry) for i, item in enumerate(items)
        )
    return CompiledRules(sale=phases["sale"], entry=phases["entry"])
