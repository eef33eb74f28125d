"""Believable visitors: valid 18-digit resident ID numbers, names and phone numbers.

The numbers are made with the real check character (ISO 7064 MOD 11-2, from the hub's own
`hub.domain.rules.idcard`), so the rule engine accepts them for the right reason and the
demo's "invalid check digit" denial is exactly one wrong character away from a valid one.
"""

from __future__ import annotations

from datetime import date

from hub.domain.rules.idcard import CHECK_CHARS, check_char

#: 黄山市屯溪区 — the district of the demo venue's city.
REGION = "341002"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰")


def id_number(born: date, seq: int, *, region: str = REGION) -> str:
    """A valid ID number for someone born on `born`; `seq` (0–999) keeps people apart
    (its parity is the gender digit, as on a real card)."""
    first17 = f"{region}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_char(first17)


def with_wrong_check_char(number: str) -> str:
    """The same number with a check character that is certainly wrong (a typo)."""
    right = number[-1]
    wrong = CHECK_CHARS[(CHECK_CHARS.index(right) + 1) % len(CHECK_CHARS)]
    return number[:-1] + wrong


def born_years_ago(years: int, on: date, *, extra_days: int = 30) -> date:
    """A birth date that makes someone `years` old (and a month) on `on`."""
    try:
        anniversary = on.replace(year=on.year - years)
    except ValueError:  # 29 February in a common year
        anniversary = on.replace(year=on.year - years, day=28)
    return date.fromordinal(anniversary.toordinal() - extra_days)


def visitor(seq: int, age: int, on: date) -> dict[str, str]:
    """A real-name visitor (the box-office wire shape) who is `age` on `on`."""
    name = _SURNAMES[seq % len(_SURNAMES)] + _GIVEN[seq % len(_GIVEN)]
    return {
        "name": name,
        "id_type": "id_card",
        "id_number": id_number(born_years_ago(age, on), seq),
        "phone": phone(seq),
    }


def phone(seq: int) -> str:
    """A mobile number shape (11 digits, 13x prefix); not anyone's real number."""
    return f"139{(52_000_000 + seq * 7919) % 100_000_000:08d}"
