from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.rules.idcard import age_on, birth_date, check_char, gender, is_valid_id_card

from .factories import make_id

# The GB 11643-1999 worked example, and a number whose check digit was worked out by hand.
KNOWN_VALID = ["11010519491231002X", "440524198001010013"]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_numbers_are_valid(number: str) -> None:
    assert check_char(number[:17]) == number[17]
    assert is_valid_id_card(number)


def test_lowercase_x_is_accepted() -> None:
    assert is_valid_id_card("11010519491231002x")


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002",  # 17 chars
        "11010519491231002XX",  # 19 chars
        "01010519491231002X",  # region starts with 0
        "110105194912310021",  # wrong check digit
        "11010518991231002X",  # born in 1899
        "110105194902300020",  # 30 February
        "1101051949123100AX",  # letter in the sequence
        "１１０１０５１９４９１２３１００２X",  # full-width digits
        "",
    ],
)
def test_invalid_numbers(number: str) -> None:
    assert not is_valid_id_card(number)


def test_born_before_1900_fails_even_with_a_correct_check_char() -> None:
    assert check_char("44052418800101001") == "4"
    assert not is_valid_id_card("440524188001010014")
    assert not is_valid_id_card(make_id("18991231"))
    assert is_valid_id_card(make_id("19000101"))


def test_future_birth_date_fails_only_when_today_is_known() -> None:
    number = make_id("20300101")
    assert is_valid_id_card(number)
    assert not is_valid_id_card(number, today=date(2026, 1, 1))
    assert is_valid_id_card(number, today=date(2030, 1, 1))


def test_check_char_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        check_char("1234")
    with pytest.raises(ValueError):
        check_char("1101051949123100A")


@st.composite
def first17_with_real_date(draw: st.DrawFn) -> str:
    region = str(draw(st.integers(100000, 999999)))
    born = draw(st.dates(date(1900, 1, 1), date(2099, 12, 31)))
    seq = f"{draw(st.integers(0, 999)):03d}"
    return region + born.strftime("%Y%m%d") + seq


@given(first17_with_real_date())
def test_exactly_one_check_char_is_valid(first17: str) -> None:
    valid = [c for c in "0123456789Xx" if is_valid_id_card(first17 + c)]
    expected = check_char(first17)
    assert [c.upper() for c in valid] == [expected] * len(valid)
    assert len(valid) == (2 if expected == "X" else 1)


@given(first17_with_real_date(), st.characters(exclude_characters="0123456789Xx"))
def test_any_other_last_char_fails(first17: str, char: str) -> None:
    assert not is_valid_id_card(first17 + char)


def test_birth_date_and_gender() -> None:
    assert birth_date("11010519491231002X") == date(1949, 12, 31)
    assert gender("11010519491231002X") == "F"  # 17th digit 2 is even
    assert gender("440524188001010014") == "M"  # 17th digit 1 is odd
    with pytest.raises(ValueError):
        birth_date("110105194913310021")


@pytest.mark.parametrize(
    ("born", "day", "years"),
    [
        ("19900307", date(2026, 3, 6), 35),
        ("19900307", date(2026, 3, 7), 36),
        ("19900307", date(1990, 3, 7), 0),
        # leap-day birthdays: a year older on 1 March in common years, 29 Feb in leap years
        ("20000229", date(2018, 2, 28), 17),
        ("20000229", date(2018, 3, 1), 18),
        ("20000229", date(2024, 2, 28), 23),
        ("20000229", date(2024, 2, 29), 24),
    ],
)
def test_age_on(born: str, day: date, years: int) -> None:
    assert age_on(make_id(born), day) == years
