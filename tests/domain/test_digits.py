"""ASCII digits only: what `str.isdigit` takes besides them is refused, not a 500."""

from __future__ import annotations

import pytest

from hub.domain.digits import ascii_int, card_number
from hub.redemptions.feed import CursorError, parse_cursor


def test_ascii_int_takes_ascii_digits_within_the_length() -> None:
    assert ascii_int("0") == 0
    assert ascii_int("0042") == 42
    assert ascii_int("9" * 18) == 10**18 - 1
    assert ascii_int("1" * 19) is None
    assert ascii_int("3600", 4) == 3600 and ascii_int("36000", 4) is None
    for text in ("", "²", "٣", "１２", "-1", "+1", " 1", "1.0", "1e3"):
        assert ascii_int(text) is None, text


@pytest.mark.parametrize("cursor", ["².t1", "٣.t1", "1" * 19 + ".t1", "x.t1", "12"])
def test_a_cursor_that_is_no_ascii_number_is_a_cursor_error(cursor: str) -> None:
    with pytest.raises(CursorError):
        parse_cursor(cursor)


def test_a_cursor_this_hub_hands_out_parses() -> None:
    assert parse_cursor("") == (-1, "")
    assert parse_cursor("17.t-abc") == (17, "t-abc")


def test_card_number_is_a_32_bit_decimal() -> None:
    assert card_number("4294967295") == 0xFFFFFFFF
    assert card_number("4294967296") is None
    assert card_number("²") is None and card_number("") is None
