"""JavaScript value semantics for the JSONLogic evaluator, and its value operations.

JSONLogic rules are written and tried on jsonlogic.com, whose reference implementation is
JavaScript; reproducing its loose equality, number coercion and string conversion here is
what makes a rule mean the same thing in the hub as in the venue's rule editor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_NAN = float("nan")


# -- JavaScript value semantics -----------------------------------------------------------


def _js_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "array"
    return "object"


def truthy(value: Any) -> bool:
    """JSONLogic truthiness: JavaScript's, except that an empty array is falsy."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return True  # objects are truthy, even empty ones, as in JavaScript


def _num_str(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(v))


def _js_str(v: Any) -> str:
    """JavaScript's String(v)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _num_str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list | tuple):
        return ",".join("" if x is None else _js_str(x) for x in v)
    return "[object Object]"


def _to_primitive(v: Any) -> Any:
    return _js_str(v) if isinstance(v, list | tuple | dict) else v


def _str_to_number(s: str) -> int | float:
    s = s.strip()
    if not s:
        return 0
    if _INT.fullmatch(s):
        return int(s)
    if _DECIMAL.fullmatch(s):
        return float(s)
    if s in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if s[0] == "-" else math.inf
    return _NAN


def _to_number(v: Any) -> int | float:
    """JavaScript's Number(v) (decimal strings only)."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        return _str_to_number(v)
    if isinstance(v, list | tuple):
        return _str_to_number(_js_str(v))
    return _NAN


def _parse_float(v: Any) -> int | float:
    """JavaScript's parseFloat(v): the longest numeric prefix of String(v)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    match = _FLOAT_PREFIX.match(_js_str(v).lstrip())
    if not match:
        return _NAN
    text = match.group()
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text[0] == "-" else math.inf
    return int(text) if _INT.fullmatch(text) else float(text)


def strict_eq(a: Any, b: Any) -> bool:
    ta = _js_type(a)
    if ta != _js_type(b):
        return False
    if ta in ("array", "object"):
        return a is b  # JavaScript compares objects by identity
    return bool(a == b)


def loose_eq(a: Any, b: Any) -> bool:
    ta, tb = _js_type(a), _js_type(b)
    if ta == tb:
        return strict_eq(a, b)
    if "null" in (ta, tb):
        return False
    if ta == "boolean":
        return loose_eq(int(a), b)
    if tb == "boolean":
        return loose_eq(a, int(b))
    if {ta, tb} == {"number", "string"}:
        return _to_number(a) == _to_number(b)
    if ta in ("array", "object"):
        return loose_eq(_to_primitive(a), b)
    if tb in ("array", "object"):
        return loose_eq(a, _to_primitive(b))
    return False


def _relation(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        a, b = _to_primitive(a), _to_primitive(b)
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        x, y = _to_number(a), _to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
        return op(x, y)

    return compare


lt = _relation(lambda x, y: x < y)
le = _relation(lambda x, y: x <= y)
gt = _relation(lambda x, y: x > y)
ge = _relation(lambda x, y: x >= y)


# -- operations ---------------------------------------------------------------------------


def get_var(data: Any, key: Any, not_found: Any = None) -> Any:
    if key is None or key == "" or key == []:
        return data
    current = data
    for part in _js_str(key).split("."):
        if current is None:
            return not_found
        if isinstance(current, dict):
            if part not in current:
                return not_found
            current = current[part]
        elif isinstance(current, list | tuple | str):
            if not part.isascii() or not part.isdigit() or int(part) >= len(current):
                return not_found
            current = current[int(part)]
        else:
            return not_found
    return current


def missing(data: Any, keys: Sequence[Any]) -> list[Any]:
    if keys and isinstance(keys[0], list | tuple):
        keys = keys[0]
    out = []
    for key in keys:
        value = get_var(data, key)
        if value is None or value == "":
            out.append(key)
    return out


def missing_some(data: Any, need: Any, options: Any) -> list[Any]:
    options = list(options) if isinstance(options, list | tuple) else [options]
    absent = missing(data, options)
    return [] if len(options) - len(absent) >= _to_number(need) else absent


def js_in(a: Any, b: Any) -> bool:
    if isinstance(b, str):
        return _js_str(a) in b
    if isinstance(b, list | tuple):
        return any(strict_eq(a, x) for x in b)
    return False


def cat(*args: Any) -> str:
    return "".join("" if a is None else _js_str(a) for a in args)


def substr(source: Any, start: Any, length: Any = None) -> str:
    text = _js_str(source)
    begin = _to_number(start)
    begin = 0 if math.isnan(begin) else int(begin)
    if begin < 0:
        begin = max(len(text) + begin, 0)
    rest = text[begin:]
    if length is None:
        return rest
    count = _to_number(length)
    count = 0 if math.isnan(count) else int(count)
    return rest[: max(len(rest) + count, 0)] if count < 0 else rest[:count]


def add(*args: Any) -> int | float:
    total: int | float = 0
    for a in args:
        total += _parse_float(a)
    return total


def mul(*args: Any) -> int | float:
    product: int | float = 1
    for a in args:
        product *= _parse_float(a)
    return product


def sub(a: Any, b: Any = None, *, unary: bool = False) -> int | float:
    return -_to_number(a) if unary else _to_number(a) - _to_number(b)


def div(a: Any, b: Any) -> float:
    x, y = _to_number(a), _to_number(b)
    if y == 0:
        if x == 0 or math.isnan(x):
            return _NAN
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def mod(a: Any, b: Any) -> int | float:
    x, y = _to_number(a), _to_number(b)
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or y == 0:
        return _NAN
    if math.isinf(y):
        return x
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)  # JavaScript's remainder takes the sign of the dividend
        return r if x >= 0 else -r
    return math.fmod(x, y)


def extreme(pick: Callable[..., Any]) -> Callable[..., int | float]:
    def run(*args: Any) -> int | float:
        numbers = [_to_number(a) for a in args]
        if any(math.isnan(n) for n in numbers):
            return _NAN
        return pick(numbers)

    return run


def merge(*args: Any) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list | tuple):
            out.extend(a)
        else:
            out.append(a)
    return out
