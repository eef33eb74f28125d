from __future__ import annotations

import math
from typing import Any

import pytest

from hub.domain.rules.jsonlogic import (
    OPERATORS,
    JsonLogicError,
    apply,
    compile_logic,
    truthy,
    validate,
)

DATA = {
    "a": 1,
    "b": {"c": [10, 20, {"d": "deep"}]},
    "s": "hello",
    "n": None,
    "empty": "",
    "items": [1, 2, 3, 4],
    "people": [{"age": 70}, {"age": 30}],
}

# (expression, data, expected) — semantics of json-logic-js / jsonlogic.com
CASES: list[tuple[Any, Any, Any]] = [
    # literals and arrays
    (1, None, 1),
    ("x", None, "x"),
    (None, None, None),
    ([1, {"var": "a"}], DATA, [1, 1]),
    # var
    ({"var": "a"}, DATA, 1),
    ({"var": ["a"]}, DATA, 1),
    ({"var": "b.c.1"}, DATA, 20),
    ({"var": "b.c.2.d"}, DATA, "deep"),
    ({"var": 1}, ["x", "y"], "y"),
    ({"var": ["zz", 42]}, DATA, 42),
    ({"var": ["b.x.y", "dflt"]}, DATA, "dflt"),
    ({"var": "n"}, DATA, None),
    ({"var": "n.deeper"}, DATA, None),
    ({"var": ""}, {"k": 1}, {"k": 1}),
    ({"var": []}, 5, 5),
    ({"var": {"cat": ["b", ".c.0"]}}, DATA, 10),
    # missing / missing_some
    ({"missing": ["a", "zz", "empty", "n"]}, DATA, ["zz", "empty", "n"]),
    ({"missing": {"merge": [["a"], ["q"]]}}, DATA, ["q"]),
    ({"missing_some": [1, ["a", "zz"]]}, DATA, []),
    ({"missing_some": [2, ["a", "zz"]]}, DATA, ["zz"]),
    # equality
    ({"==": [1, 1]}, None, True),
    ({"==": [1, "1"]}, None, True),
    ({"==": [0, False]}, None, True),
    ({"==": ["", 0]}, None, True),
    ({"==": [None, 0]}, None, False),
    ({"==": [None, None]}, None, True),
    ({"==": [True, "1"]}, None, True),
    ({"==": [[1], 1]}, None, True),
    ({"!=": [1, 2]}, None, True),
    ({"!=": [1, "1"]}, None, False),
    ({"===": [1, 1.0]}, None, True),
    ({"===": [1, "1"]}, None, False),
    ({"===": [1, True]}, None, False),
    ({"!==": [1, "1"]}, None, True),
    ({"!==": [None, None]}, None, False),
    # comparisons
    ({">": [2, 1]}, None, True),
    ({">": ["2", 1]}, None, True),
    ({">": ["b", "a"]}, None, True),
    ({">=": [1, 1]}, None, True),
    ({"<": [1, 2]}, None, True),
    ({"<": ["1", 2]}, None, True),
    ({"<": ["10", "9"]}, None, True),  # two strings compare as text
    ({"<": [0, "foo"]}, None, False),  # NaN compares false
    ({"<": [1, 2, 3]}, None, True),
    ({"<": [1, 1, 3]}, None, False),
    ({"<": [1, 4, 3]}, None, False),
    ({"<=": [1, 1, 3]}, None, True),
    ({"<=": [1, 4, 3]}, None, False),
    ({"<": [None, 1]}, None, True),  # null is 0
    # logic
    ({"!": [True]}, None, False),
    ({"!": False}, None, True),
    ({"!": [[]]}, None, True),
    ({"!!": ["0"]}, None, True),
    ({"!!": [[]]}, None, False),
    ({"!!": [{"var": "items"}]}, DATA, True),
    ({"and": [True, 1, "x"]}, None, "x"),
    ({"and": [True, 0, "x"]}, None, 0),
    ({"or": [False, "", "y"]}, None, "y"),
    ({"or": [False, 0]}, None, 0),
    ({"if": []}, None, None),
    ({"if": [True, "yes", "no"]}, None, "yes"),
    ({"if": [False, "yes", "no"]}, None, "no"),
    ({"if": [False, 1, False, 2, 3]}, None, 3),
    ({"if": [False, 1, True, 2, 3]}, None, 2),
    ({"if": [False, 1]}, None, None),
    ({"?:": [True, 1, 2]}, None, 1),
    # in / cat / substr
    ({"in": ["Spring", "Springfield"]}, None, True),
    ({"in": ["x", "Springfield"]}, None, False),
    ({"in": [2, [1, 2, 3]]}, None, True),
    ({"in": ["2", [1, 2, 3]]}, None, False),  # list membership is strict
    ({"in": [1, None]}, None, False),
    ({"cat": ["I love", " pie"]}, None, "I love pie"),
    ({"cat": ["n=", 1.0, None, True, [1, 2]]}, None, "n=1true1,2"),
    ({"cat": [1.5]}, None, "1.5"),
    ({"substr": ["jsonlogic", 4]}, None, "logic"),
    ({"substr": ["jsonlogic", -5]}, None, "logic"),
    ({"substr": ["jsonlogic", 1, 3]}, None, "son"),
    ({"substr": ["jsonlogic", 4, -2]}, None, "log"),
    # arithmetic
    ({"+": [4, 2]}, None, 6),
    ({"+": [2, 2, 2, 2]}, None, 8),
    ({"+": []}, None, 0),
    ({"+": "3.14"}, None, 3.14),
    ({"+": [3.5, "0.5"]}, None, 4),
    ({"+": ["3px", 1]}, None, 4),  # parseFloat reads the numeric prefix
    ({"-": [4, 2]}, None, 2),
    ({"-": [2]}, None, -2),
    ({"-": ["5", "2"]}, None, 3),
    ({"*": [4, 2]}, None, 8),
    ({"*": [2, 2, 2]}, None, 8),
    ({"/": [4, 2]}, None, 2),
    ({"/": [1, 0]}, None, math.inf),
    ({"/": [-1, 0]}, None, -math.inf),
    ({"%": [101, 2]}, None, 1),
    ({"%": [-7, 3]}, None, -1),  # JavaScript's remainder keeps the dividend's sign
    ({"%": [7.5, 2]}, None, 1.5),
    ({"min": [1, 2, 3]}, None, 1),
    ({"max": [1, "5", 3]}, None, 5),
    # arrays
    ({"merge": [[1, 2], [3], 4]}, None, [1, 2, 3, 4]),
    ({"merge": []}, None, []),
    ({"map": [{"var": "items"}, {"*": [{"var": ""}, 2]}]}, DATA, [2, 4, 6, 8]),
    ({"map": [{"var": "nope"}, {"var": ""}]}, DATA, []),
    ({"filter": [{"var": "items"}, {"%": [{"var": ""}, 2]}]}, DATA, [1, 3]),
    (
        {"reduce": [{"var": "items"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]},
        DATA,
        10,
    ),
    ({"reduce": [{"var": "nope"}, {"var": "current"}, 7]}, DATA, 7),
    ({"all": [{"var": "items"}, {">": [{"var": ""}, 0]}]}, DATA, True),
    ({"all": [{"var": "items"}, {">": [{"var": ""}, 1]}]}, DATA, False),
    ({"all": [[], {">": [{"var": ""}, 0]}]}, None, False),
    ({"some": [{"var": "people"}, {">=": [{"var": "age"}, 65]}]}, DATA, True),
    ({"some": [[], True]}, None, False),
    ({"some": [{"var": "nope"}, True]}, DATA, False),
    ({"none": [{"var": "people"}, {">": [{"var": "age"}, 90]}]}, DATA, True),
    ({"none": [{"var": "people"}, {">": [{"var": "age"}, 60]}]}, DATA, False),
    ({"none": [{"var": "nope"}, True]}, DATA, True),
]


@pytest.mark.parametrize(("expr", "data", "expected"), CASES)
def test_semantics(expr: Any, data: Any, expected: Any) -> None:
    result = apply(expr, data)
    assert result == expected
    assert type(result) is type(expected) or {type(result), type(expected)} == {int, float}


def test_nan_results() -> None:
    assert math.isnan(apply({"/": [0, 0]}))
    assert math.isnan(apply({"%": [1, 0]}))
    assert math.isnan(apply({"+": [None, 1]}))
    assert math.isnan(apply({"max": [1, "x"]}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, False),
        (-1, True),
        ([], False),
        ([0], True),
        ("", False),
        ("0", True),
        (None, False),
        ({}, True),
        (math.nan, False),
    ],
)
def test_truthy(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


class _Recording(dict[str, Any]):
    """Data that remembers which keys were read, to observe evaluation."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[str] = []

    def __contains__(self, key: object) -> bool:
        self.read.append(str(key))
        return super().__contains__(key)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ({"if": [True, {"var": "taken"}, {"var": "skipped"}]}, 1),
        ({"if": [False, {"var": "skipped"}, {"var": "taken"}]}, 1),
        ({"and": [False, {"var": "skipped"}]}, False),
        ({"or": [{"var": "taken"}, {"var": "skipped"}]}, 1),
    ],
)
def test_if_and_or_are_lazy(expr: Any, expected: Any) -> None:
    data = _Recording({"taken": 1, "skipped": 2})
    assert apply(expr, data) == expected
    assert "skipped" not in data.read


def test_compiled_expression_is_reusable() -> None:
    fn = compile_logic({">": [{"var": "q"}, 2]})
    assert [fn({"q": q}) for q in (1, 2, 3)] == [False, False, True]


def test_every_documented_operator_is_supported() -> None:
    required = {
        "var", "missing", "missing_some", "==", "!=", "===", "!==", "<", "<=", ">", ">=",
        "!", "!!", "and", "or", "if", "in", "cat", "substr", "+", "-", "*", "/", "%",
        "min", "max", "merge", "map", "filter", "all", "some", "none", "reduce",
    }  # fmt: skip
    assert required <= OPERATORS
    assert "log" not in OPERATORS  # rules are pure
    assert "method" not in OPERATORS


@pytest.mark.parametrize(
    ("expr", "path", "words"),
    [
        ({"nope": [1]}, "nope", "unknown operator 'nope'"),
        ({"and": [True, {"<": [1, {"foo": 2}]}]}, "and[1].<[1].foo", "unknown operator"),
        ({"log": "x"}, "log", "unknown operator"),
        ({"==": [1]}, "==", "takes 2 arguments, got 1"),
        ({">": [1, 2, 3]}, ">", "takes 2 arguments"),
        ({"<": [1, 2, 3, 4]}, "<", "takes 2..3 arguments"),
        ({"!": []}, "!", "takes 1 arguments"),
        ({"and": []}, "and", "takes ≥1 arguments"),
        ({"a": 1, "b": 2}, "", "exactly one key"),
        ({}, "", "exactly one key"),
        ({"if": [True, {"x": 1, "y": 2}]}, "if[1]", "exactly one key"),
        ({"map": [[1], {"bogus": 1}]}, "map[1].bogus", "unknown operator"),
        ({"var": object()}, "var", "not a JSON value"),
    ],
)
def test_validation_errors_name_the_node(expr: Any, path: str, words: str) -> None:
    with pytest.raises(JsonLogicError) as info:
        validate(expr)
    assert info.value.path == path
    assert words in str(info.value)


def test_validation_path_prefix_and_depth_limit() -> None:
    with pytest.raises(JsonLogicError) as info:
        validate({"!": {"zap": 1}}, path="sale[3].deny_if")
    assert info.value.path == "sale[3].deny_if.!.zap"
    deep: Any = True
    for _ in range(100):
        deep = {"!": [deep]}
    with pytest.raises(JsonLogicError, match="deeper"):
        validate(deep)


def test_valid_expression_passes_validation() -> None:
    validate({"and": [{"<": [{"var": "order.quantity"}, 2]}, {"in": ["ota", ["ota", "wx"]]}]})
