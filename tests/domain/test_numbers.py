from __future__ import annotations

import pytest

from hub.domain.numbers import ascii_uint


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("4294967295", 4294967295), ("007", 7)],
)
def test_ascii_digits_are_read(text: str, value: int) -> None:
    assert ascii_uint(text, max_digits=10) == value


@pytest.mark.parametrize(
    "text",
    ["", "²", "1²", "①", "٣", "-1", "+1", " 1", "1_000", "12345678901", "0x10"],
)
def test_anything_else_is_no_number(text: str) -> None:
    # "²" and "①" pass str.isdigit(), and int() refuses them; "٣" int() would take
    assert ascii_uint(text, max_digits=10) is None
