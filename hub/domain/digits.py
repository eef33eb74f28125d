"""Whole numbers written in ASCII digits, the only digits a wire format, a URL or a
partner's file means: `str.isdigit` also takes "²" (which `int` refuses, a 500 where a
refusal was meant) and other scripts' digits such as "٣" (which `int` reads as 3)."""

from __future__ import annotations


def ascii_int(text: str, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative int when it is 1 to ``max_digits`` ASCII digits (the
    default keeps it within a 64-bit column), else None."""
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


def card_number(value: str) -> int | None:
    """A 32-bit card number written in decimal (what Wiegand readers and controllers
    send), else None."""
    number = ascii_int(value, 10)
    return number if number is not None and number <= 0xFFFFFFFF else None
