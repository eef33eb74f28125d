"""The ONE rule engine: the hub runs it at sale time, the venue bridge at the gate.

Rules run in document order and the first denial wins, so a venue orders its document
from the most to the least telling refusal. The engine decides and never crashes on an
ordinary "no"; a rule that raises is a bug, surfaced as `RuleEvaluationError` naming the
rule so the caller can answer with a clean error instead of a wrong decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.domain.errors import Denial, DenialCode
from hub.domain.order import TicketState
from hub.domain.rules.context import EntryContext, SaleContext, entry_data, sale_data
from hub.domain.rules.document import CheckStep, CompiledRules, Step, compile_document
from hub.domain.rules.jsonlogic import truthy
from hub.domain.rules.registry import RuleRegistry
from hub.domain.rules.results import Allow, Claim

__all__ = [
    "Claim",
    "EntryDecision",
    "RuleEngine",
    "RuleEvaluationError",
    "SaleDecision",
    "intrinsic_entry_denial",
]


class RuleEvaluationError(Exception):
    """A rule failed to decide (it raised or returned something else than a decision)."""

    def __init__(self, rule: str, path: str, problem: str) -> None:
        super().__init__(f"rule {rule!r} at {path} failed: {problem}")
        self.rule = rule
        self.path = path


@dataclass(frozen=True, slots=True)
class SaleDecision:
    denial: Denial | None
    claims: tuple[Claim, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.denial is None


@dataclass(frozen=True, slots=True)
class EntryDecision:
    denial: Denial | None

    @property
    def allowed(self) -> bool:
        return self.denial is None


def intrinsic_entry_denial(ctx: EntryContext) -> Denial | None:
    """What every ticket implies whatever its product's rules: not revoked, entries left,
    inside its validity.

    Entries count from the larger of the hub's ``entries_used`` and the bridge's local
    ``entries_total``: offline, the bridge knows of entries the hub has not heard of yet.
    """
    ticket = ctx.ticket
    if ticket.state == TicketState.REVOKED:
        return Denial(DenialCode.TICKET_REVOKED, "Ticket has been revoked")
    used = max(ticket.entries_used, ctx.entries_total)
    if ticket.state == TicketState.USED or used >= ticket.entries_allowed:
        return Denial(
            DenialCode.ENTRIES_EXHAUSTED,
            "No entries left on this ticket",
            {"entries_allowed": ticket.entries_allowed, "entries_used": used},
        )
    validity = {
        "valid_from": ticket.valid_from.isoformat(),
        "valid_until": ticket.valid_until.isoformat(),
    }
    if ctx.now < ticket.valid_from:
        return Denial(DenialCode.NOT_VALID_TODAY, "Ticket not valid yet", validity)
    if ctx.now >= ticket.valid_until:
        return Denial(DenialCode.NOT_VALID_TODAY, "Ticket has expired", validity)
    return None


def _require_aware(ctx: SaleContext | EntryContext) -> None:
    if ctx.now.tzinfo is None or ctx.now.utcoffset() is None:
        raise RuleEvaluationError("context", "now", "ctx.now must be an aware datetime")


class RuleEngine:
    def __init__(self, registry: RuleRegistry) -> None:
        self.registry = registry

    def compile(self, document: Mapping[str, Any]) -> CompiledRules:
        """Validate a rule document; raises `RuleDocumentError` naming the bad field."""
        return compile_document(document, self.registry)

    def evaluate_sale(
        self, document: Mapping[str, Any] | CompiledRules, ctx: SaleContext
    ) -> SaleDecision:
        """Run the sale rules; on success, the claims the storage must enforce."""
        rules = compile_document(document, self.registry)
        _require_aware(ctx)
        data = _LazyData(lambda: sale_data(ctx))
        claims: list[Claim] = []
        for step in rules.sale:
            result = _run(step, ctx, data)
            if isinstance(result, Denial):
                return SaleDecision(result)
            if isinstance(result, Allow):
                claims.extend(result.claims)
        return SaleDecision(None, tuple(claims))

    def evaluate_entry(
        self, document: Mapping[str, Any] | CompiledRules, ctx: EntryContext
    ) -> EntryDecision:
        """Ticket-intrinsic checks first, then the document's entry rules."""
        rules = compile_document(document, self.registry)
        _require_aware(ctx)
        try:
            denial = intrinsic_entry_denial(ctx)
        except TypeError as exc:  # a naive validity datetime in the ticket
            raise RuleEvaluationError("ticket", "intrinsic", str(exc)) from exc
        if denial is not None:
            return EntryDecision(denial)
        data = _LazyData(lambda: entry_data(ctx))
        for step in rules.entry:
            result = _run(step, ctx, data)
            if isinstance(result, Denial):
                return EntryDecision(result)
            if isinstance(result, Allow) and result.claims:
                name = step.rule.name if isinstance(step, CheckStep) else "deny_if"
                raise RuleEvaluationError(name, step.path, "claims are a sale-phase result")
        return EntryDecision(None)


class _LazyData:
    """JSONLogic data, built at most once and only if a `deny_if` rule needs it."""

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._build()
        return self._value


def _run(step: Step, ctx: SaleContext | EntryContext, data: _LazyData) -> Denial | Allow | None:
    if isinstance(step, CheckStep):
        name = step.rule.name
        try:
            result = step.rule.fn(step.params, ctx)
        except Exception as exc:
            raise RuleEvaluationError(name, step.path, f"{type(exc).__name__}: {exc}") from exc
        if result is None or isinstance(result, Denial | Allow):
            return result
        problem = f"returned {type(result).__name__}, expected None, Denial or Allow"
        raise RuleEvaluationError(name, step.path, problem)
    try:
        hit = truthy(step.logic(data.get()))
    except Exception as exc:
        raise RuleEvaluationError("deny_if", step.path, f"{type(exc).__name__}: {exc}") from exc
    if hit:
        return Denial(step.code, step.reason, {"rule": step.path})
    return None
