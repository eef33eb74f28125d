"""Mainland resident identity card numbers (GB 11643-1999).

Real-name sales and age-restricted tickets depend on these numbers, and a typo caught at
sale time is far cheaper than a visitor turned away at the gate, so the number is checked
completely: shape, region digit, a real birth date, and the ISO 7064 MOD 11-2 check
character.
"""

from __future__ import annotations

import re
from datetime import date

WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)

# ASCII digits only: `str.isdigit` and `\d` would accept full-width and other Unicode digits.
_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9Xx]")
_FIRST17 = re.compile(r"[0-9]{17}")


def check_char(first17: str) -> str:
    """The MOD 11-2 check character ('0'–'9' or 'X') for the first 17 digits."""
    if not _FIRST17.fullmatch(first17):
        raise ValueError("expected exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def birth_date(number: str) -> date:
    """Birth date encoded in digits 7–14; raises ValueError when it is not a real date."""
    digits = number[6:14]
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        raise ValueError("no YYYYMMDD birth date in the ID number")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def age_on(number: str, day: date) -> int:
    """Full years of age on `day`.

    Someone born on 29 February turns a year older on 1 March in common years, the usual
    reading of Chinese age rules (the birthday has not yet come on 28 February).
    """
    born = birth_date(number)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def gender(number: str) -> str:
    """'M' or 'F' from the parity of the 17th digit (the sequence code)."""
    digit = number[16:17]
    if not (digit.isascii() and digit.isdigit()):
        raise ValueError("no sequence digit in the ID number")
    return "M" if int(digit) % 2 else "F"


def is_valid_id_card(number: str, *, today: date | None = None) -> bool:
    """True when `number` is a well-formed 18-character ID with a correct check character.

    `today` (venue-local) rejects birth dates in the future; without it only the 1900
    lower bound applies.
    """
    if not isinstance(number, str) or not _SHAPE.fullmatch(number):
        return False
    try:
        born = birth_date(number)
    except ValueError:
        return False
    if born < EARLIEST_BIRTH or (today is not None and born > today):
        return False
    return check_char(number[:17]) == number[17].upper()
