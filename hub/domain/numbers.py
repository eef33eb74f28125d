"""Numbers typed by people and devices: card numbers, ids in a URL, cursors.

``str.isdigit()`` is true for "²" and "①", which ``int()`` then refuses with a
``ValueError`` — a request or a gate scan carrying one used to end in a 500 or a crashed
decision (found by the OpenAPI fuzzer). Every such parse goes through `ascii_uint`.
"""

from __future__ import annotations


def ascii_uint(text: str, *, max_digits: int) -> int | None:
    """The value of ``text`` when it is 1 to ``max_digits`` ASCII digits, else ``None``.

    ``max_digits`` bounds the value as well as the work: a 64-bit row id needs at most 18,
    a 32-bit card number 10.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None
