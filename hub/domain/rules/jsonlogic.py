"""A JSONLogic evaluator (https://jsonlogic.com), for venue rules no built-in check expresses.

Semantics follow the reference implementation (json-logic-js), including JavaScript's
loose equality and number coercion, so a rule written and tried on jsonlogic.com means the
same here. Two deliberate differences, both to fail when a product is saved rather than at
a gate: expressions are compiled up front (unknown operators, wrong argument counts and
non-JSON values raise `JsonLogicError` with the path of the offending node), and an object
that is not a one-key operation is an error instead of a literal. ``log`` and ``method``
are not supported: rules are pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeAlias

from hub.domain.rules.jsvalues import (
    add,
    cat,
    div,
    extreme,
    ge,
    get_var,
    gt,
    js_in,
    le,
    loose_eq,
    lt,
    merge,
    missing,
    missing_some,
    mod,
    mul,
    strict_eq,
    sub,
    substr,
    truthy,
)

__all__ = [
    "OPERATORS",
    "Evaluator",
    "JsonLogicError",
    "apply",
    "compile_logic",
    "truthy",
    "validate",
]

Evaluator: TypeAlias = Callable[[Any], Any]
MAX_DEPTH = 64


class JsonLogicError(ValueError):
    """An expression that cannot be compiled; `path` locates the node (e.g. ``and[1].<``)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path


# -- compiler -----------------------------------------------------------------------------

Builder: TypeAlias = Callable[[list[Evaluator]], Evaluator]


def _eager(fn: Callable[..., Any]) -> Builder:
    def build(subs: list[Evaluator]) -> Evaluator:
        return lambda data: fn(*[s(data) for s in subs])

    return build


def _with_data(fn: Callable[..., Any]) -> Builder:
    def build(subs: list[Evaluator]) -> Evaluator:
        return lambda data: fn(data, *[s(data) for s in subs])

    return build


def _build_var(subs: list[Evaluator]) -> Evaluator:
    def run(data: Any) -> Any:
        values = [s(data) for s in subs]
        return get_var(data, values[0] if values else None, values[1] if len(values) > 1 else None)

    return run


def _build_if(subs: list[Evaluator]) -> Evaluator:
    def run(data: Any) -> Any:
        i = 0
        while i < len(subs) - 1:
            if truthy(subs[i](data)):
                return subs[i + 1](data)
            i += 2
        return subs[i](data) if i == len(subs) - 1 else None

    return run


def _build_and(subs: list[Evaluator]) -> Evaluator:
    def run(data: Any) -> Any:
        value = None
        for s in subs:
            value = s(data)
            if not truthy(value):
                return value
        return value

    return run


def _build_or(subs: list[Evaluator]) -> Evaluator:
    def run(data: Any) -> Any:
        value = None
        for s in subs:
            value = s(data)
            if truthy(value):
                return value
        return value

    return run


def _build_chain(pair: Callable[[Any, Any], bool]) -> Builder:
    """``<`` and ``<=`` take a third argument: ``{"<": [1, x, 10]}`` is 1 < x < 10."""

    def build(subs: list[Evaluator]) -> Evaluator:
        def run(data: Any) -> bool:
            values = [s(data) for s in subs]
            return all(pair(a, b) for a, b in itertools.pairwise(values))

        return run

    return build


def _build_iter(kind: str) -> Builder:
    def build(subs: list[Evaluator]) -> Evaluator:
        source, logic = subs[0], subs[1]

        def run(data: Any) -> Any:
            items = source(data)
            if not isinstance(items, list | tuple):
                return [] if kind in ("map", "filter") else kind == "none"
            if kind == "map":
                return [logic(item) for item in items]
            if kind == "all":
                return bool(items) and all(truthy(logic(item)) for item in items)
            kept = [item for item in items if truthy(logic(item))]
            if kind == "filter":
                return kept
            return bool(kept) if kind == "some" else not kept

        return run

    return build


def _build_reduce(subs: list[Evaluator]) -> Evaluator:
    def run(data: Any) -> Any:
        items = subs[0](data)
        accumulator = subs[2](data) if len(subs) > 2 else None
        if not isinstance(items, list | tuple):
            return accumulator
        for item in items:
            accumulator = subs[1]({"current": item, "accumulator": accumulator})
        return accumulator

    return run


def _build_minus(subs: list[Evaluator]) -> Evaluator:
    if len(subs) == 1:
        return lambda data: sub(subs[0](data), unary=True)
    return lambda data: sub(subs[0](data), subs[1](data))


_UNLIMITED = 1 << 30

#: operator → (builder, minimum arguments, maximum arguments)
_OPS: dict[str, tuple[Builder, int, int]] = {
    "var": (_build_var, 0, 2),
    "missing": (_with_data(lambda data, *keys: missing(data, keys)), 0, _UNLIMITED),
    "missing_some": (_with_data(missing_some), 2, 2),
    "if": (_build_if, 0, _UNLIMITED),
    "?:": (_build_if, 0, _UNLIMITED),
    "==": (_eager(loose_eq), 2, 2),
    "!=": (_eager(lambda a, b: not loose_eq(a, b)), 2, 2),
    "===": (_eager(strict_eq), 2, 2),
    "!==": (_eager(lambda a, b: not strict_eq(a, b)), 2, 2),
    "<": (_build_chain(lt), 2, 3),
    "<=": (_build_chain(le), 2, 3),
    ">": (_eager(gt), 2, 2),
    ">=": (_eager(ge), 2, 2),
    "!": (_eager(lambda a: not truthy(a)), 1, 1),
    "!!": (_eager(truthy), 1, 1),
    "and": (_build_and, 1, _UNLIMITED),
    "or": (_build_or, 1, _UNLIMITED),
    "in": (_eager(js_in), 2, 2),
    "cat": (_eager(cat), 0, _UNLIMITED),
    "substr": (_eager(substr), 2, 3),
    "+": (_eager(add), 0, _UNLIMITED),
    "-": (_build_minus, 1, 2),
    "*": (_eager(mul), 1, _UNLIMITED),
    "/": (_eager(div), 2, 2),
    "%": (_eager(mod), 2, 2),
    "min": (_eager(extreme(min)), 1, _UNLIMITED),
    "max": (_eager(extreme(max)), 1, _UNLIMITED),
    "merge": (_eager(merge), 0, _UNLIMITED),
    "map": (_build_iter("map"), 2, 2),
    "filter": (_build_iter("filter"), 2, 2),
    "all": (_build_iter("all"), 2, 2),
    "some": (_build_iter("some"), 2, 2),
    "none": (_build_iter("none"), 2, 2),
    "reduce": (_build_reduce, 2, 3),
}

OPERATORS: frozenset[str] = frozenset(_OPS)


def _const(value: Any) -> Evaluator:
    return lambda _data: value


def _compile(expr: Any, path: str, depth: int) -> Evaluator:
    if depth > MAX_DEPTH:
        raise JsonLogicError(f"nested deeper than {MAX_DEPTH} levels", path)
    if expr is None or isinstance(expr, str | int | float | bool):
        return _const(expr)
    if isinstance(expr, list | tuple):
        items = [_compile(e, f"{path}[{i}]", depth + 1) for i, e in enumerate(expr)]
        return lambda data: [item(data) for item in items]
    if isinstance(expr, dict):
        if len(expr) != 1:
            raise JsonLogicError(
                f"an operation is an object with exactly one key, got {len(expr)} keys", path
            )
        ((op, raw_args),) = expr.items()
        here = f"{path}.{op}" if path else str(op)
        if op not in _OPS:
            raise JsonLogicError(f"unknown operator {op!r}", here)
        builder, low, high = _OPS[op]
        if isinstance(raw_args, list | tuple):
            args = list(raw_args)
            subs = [_compile(a, f"{here}[{i}]", depth + 1) for i, a in enumerate(args)]
        else:  # unary sugar: {"var": "a"} means {"var": ["a"]}
            subs = [_compile(raw_args, here, depth + 1)]
        if not low <= len(subs) <= high:
            want = str(low) if low == high else f"{low}..{high}" if high < _UNLIMITED else f"≥{low}"
            raise JsonLogicError(f"{op!r} takes {want} arguments, got {len(subs)}", here)
        return builder(subs)
    raise JsonLogicError(f"not a JSON value: {type(expr).__name__}", path)


def compile_logic(expr: Any, *, path: str = "") -> Evaluator:
    """Validate `expr` and return a function of the data; raises `JsonLogicError`.

    Compile once, evaluate many times: the gate decides in milliseconds.
    """
    return _compile(expr, path, 0)


def validate(expr: Any, *, path: str = "") -> None:
    """Raise `JsonLogicError` (with the node's path) unless `expr` compiles."""
    compile_logic(expr, path=path)


def apply(expr: Any, data: Any = None) -> Any:
    """Evaluate `expr` against `data` (compiles every call; prefer `compile_logic`)."""
    return compile_logic(expr)(data)
