"""The named checks a rule document can use (``{"check": name, ...params}``).

Standalone on purpose: the domain may not import `hub.sdk.registries`, and the venue bridge fills
the same registry. Override semantics match `hub.sdk.registries.Registry`: a built-in
(``default=True``) gives way to any plugin's rule of the same name whatever the load
order, while two plugins claiming one name is a configuration error naming both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict

from hub.domain.rules.context import EntryContext, SaleContext
from hub.domain.rules.results import RuleResult

PHASES: frozenset[str] = frozenset({"sale", "entry"})

#: ``fn(params, ctx)``: `params` is an instance of the rule's params model.
RuleFunction: TypeAlias = Callable[[Any, SaleContext | EntryContext], RuleResult]


class RuleRegistryError(Exception):
    """A rule registration conflicts or a lookup names no rule."""


class NoParams(BaseModel):
    """Params model of a rule that takes none: any extra key in the document is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class RegisteredRule:
    name: str
    fn: RuleFunction
    phases: frozenset[str]
    params: type[BaseModel]
    source: str
    default: bool = False


class RuleRegistry:
    def __init__(self) -> None:
        self._rules: dict[str, RegisteredRule] = {}
        self._source = "?"

    def _set_source(self, source: str) -> None:
        """Called by the plugin manager before each plugin's hook, so errors name plugins."""
        self._source = source

    def add(
        self,
        name: str,
        fn: RuleFunction,
        *,
        phases: frozenset[str] = frozenset({"sale"}),
        params: type[BaseModel] | None = None,
        default: bool = False,
    ) -> None:
        """Register `fn` as check `name`.

        `params` validates the document's keys other than ``"check"`` at compile time, so
        a typo in a rule document fails when the product is saved, not at the gate. Give
        it ``extra="forbid"`` for the same reason; ``None`` means the rule takes no keys.
        """
        where = f"rule {name!r} from {self._source}"
        if not isinstance(name, str) or not name or name == "deny_if":
            raise RuleRegistryError(f"{where}: invalid rule name")
        if not callable(fn):
            raise RuleRegistryError(f"{where}: the rule function is not callable")
        phases = frozenset(phases)
        if not phases or not phases <= PHASES:
            raise RuleRegistryError(
                f"{where}: phases must be a non-empty subset of {{sale, entry}}"
            )
        if params is None:
            params = NoParams
        elif not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise RuleRegistryError(f"{where}: params must be a pydantic model class")
        old = self._rules.get(name)
        if old is not None:
            if default and not old.default:
                return  # a plugin's override is already in place
            if not default and not old.default:
                raise RuleRegistryError(
                    f"rule {name!r} registered twice: by {old.source} and {self._source}"
                )
        self._rules[name] = RegisteredRule(name, fn, phases, params, self._source, default)

    def get(self, name: str) -> RegisteredRule:
        try:
            return self._rules[name]
        except KeyError:
            raise RuleRegistryError(f"no rule named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def __iter__(self) -> Iterator[RegisteredRule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._rules)

    def names(self) -> list[str]:
        return sorted(self._rules)
