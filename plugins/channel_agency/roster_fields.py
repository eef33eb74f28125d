"""Cell values to clean visitor fields: normalization, column names, ID types, checks.

Rosters are typed by people into Excel, often on Chinese input methods, so the same ID
number arrives with full-width digits, a trailing space, a lowercase x, a leading
apostrophe, wrapped as ``="…"`` by another system's export, or as a number Excel has
already rounded. Everything here is pure and per cell; the row and group logic lives in
:mod:`plugins.channel_agency.roster`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Final, NamedTuple

from hub.domain import IdType
from hub.domain.masking import mask_id, mask_phone
from hub.domain.rules.idcard import EARLIEST_BIRTH, birth_date, check_char, is_valid_id_card
from plugins.channel_agency.roster_model import (
    INVALID_ID_NUMBER,
    INVALID_NAME,
    INVALID_PHONE,
    MISSING_ID,
    MISSING_NAME,
    UNKNOWN_ID_TYPE,
)

# Limits of the canonical Visitor model: checked here so a long cell is a row error, not a
# pydantic exception.
MAX_NAME = 100
MAX_PHONE = 32

EXCEL_LOST_DIGITS: Final = "ID number lost its digits in Excel; format the column as text"


class Problem(NamedTuple):
    code: str
    message: str
    warning: bool = False


# --- text normalization -------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SPACES = re.compile(r"\s+")
_EXCEL_TEXT_FORMULA = re.compile(r'=\s*"(.*)"', re.DOTALL)


def cell_text(value: object) -> str:
    """A cell as clean text: NFKC (full-width digits, letters and spaces become ASCII),
    zero-width characters dropped, runs of whitespace collapsed, ends stripped.

    Integral numbers print without ``.0``: a phone or an ID type code typed into Excel
    comes back as a number. (ID numbers are handled by :func:`id_number_text`, which
    refuses floats.)
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    else:
        text = str(value)
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    text = _SPACES.sub(" ", text).strip()
    # `="0123"` is how some exports (and our own writer's consumers) force Excel to keep
    # text; the value is what is between the quotes.
    match = _EXCEL_TEXT_FORMULA.fullmatch(text)
    if match:
        text = _SPACES.sub(" ", match.group(1)).strip()
    return text


# --- column names -------------------------------------------------------------------------

NAME, ID_TYPE, ID_NUMBER, PHONE = "name", "id_type", "id_number", "phone"
REQUIRED_COLUMNS: Final = (NAME, ID_NUMBER)

_HEADER_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    NAME: ("姓名", "name", "游客姓名", "真实姓名", "游客名称", "full name", "visitor name"),
    ID_TYPE: ("证件类型", "id_type", "证件类别", "id type", "document type"),
    ID_NUMBER: (
        "证件号码",
        "身份证号",
        "身份证号码",
        "证件号",
        "id_number",
        "idno",
        "id no",
        "document number",
    ),
    PHONE: ("手机号", "电话", "phone", "mobile", "手机", "手机号码", "联系电话", "电话号码"),
}

_HEADER_NOISE = re.compile(r"\(.*?\)|\[.*?\]|【.*?】|[\s_\-*:：]")


def header_key(text: object) -> str:
    """Case-, space-, width- and decoration-insensitive form of a column name:
    ``" ID_Number "``, ``"证件号码*"`` and ``"证件号码（必填）"`` all match their alias."""
    return _HEADER_NOISE.sub("", cell_text(text).lower())


HEADER_FIELDS: Final[dict[str, str]] = {
    header_key(alias): fld for fld, aliases in _HEADER_ALIASES.items() for alias in aliases
}


def column_aliases(fld: str) -> str:
    """The accepted names of a column, for error messages."""
    return " / ".join(_HEADER_ALIASES[fld][:4])


# --- ID types -----------------------------------------------------------------------------

_ID_TYPE_ALIASES: Final[dict[IdType, tuple[str, ...]]] = {
    IdType.ID_CARD: ("身份证", "居民身份证", "二代身份证", "id_card", "id card", "idcard", "1"),
    IdType.PASSPORT: ("护照", "passport", "2"),
    IdType.HK_MACAU_PERMIT: ("港澳通行证", "回乡证", "港澳居民来往内地通行证", "hk_macau_permit"),
    IdType.TAIWAN_PERMIT: ("台胞证", "台湾居民来往大陆通行证", "taiwan_permit"),
    IdType.FOREIGNER_PERMIT: (
        "外国人永久居留证",
        "外国人永久居留身份证",
        "永居证",
        "foreigner_permit",
    ),
    IdType.OTHER: ("其他", "其它", "other"),
}
_ID_TYPES: Final[dict[str, IdType]] = {
    header_key(alias): kind for kind, aliases in _ID_TYPE_ALIASES.items() for alias in aliases
}
#: What the writers put in the 证件类型 column: the first (Chinese) alias.
ID_TYPE_LABELS: Final[dict[IdType, str]] = {k: v[0] for k, v in _ID_TYPE_ALIASES.items()}


def _shown(value: str) -> str:
    """A user value safe to quote in a message: short, and masked when it could be an ID
    number or phone typed into the wrong column."""
    if sum(c.isdigit() for c in value) >= 5 or len(value) > 20:
        return mask_id(value) or ""
    return value


def parse_id_type(value: object) -> tuple[IdType | None, Problem | None]:
    """An empty cell means a mainland ID card, the overwhelmingly common case."""
    text = cell_text(value)
    if not text:
        return IdType.ID_CARD, None
    kind = _ID_TYPES.get(header_key(text))
    if kind is None:
        return None, Problem(UNKNOWN_ID_TYPE, f"unknown ID type '{_shown(text)}'")
    return kind, None


# --- names --------------------------------------------------------------------------------


def parse_name(value: object) -> tuple[str, Problem | None]:
    text = cell_text(value)
    if not text:
        return "", Problem(MISSING_NAME, "name is missing")
    if len(text) > MAX_NAME:
        return text, Problem(INVALID_NAME, f"name is longer than {MAX_NAME} characters")
    if any(c.isdigit() for c in text):
        # Usually the ID number or phone pasted into the name column.
        return text, Problem(INVALID_NAME, "name contains digits; are the columns swapped?")
    if any(unicodedata.category(c) == "Cc" for c in text):
        return text, Problem(INVALID_NAME, "name contains control characters")
    return text, None


# --- ID numbers ---------------------------------------------------------------------------

# How Excel shows a big number ("1.10105E+17") or how a float prints ("1.1e+17", "110….0").
_EXCEL_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?E\+[0-9]+|[0-9]+\.[0-9]*")
_ID_CARD_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_OTHER_ID = re.compile(r"[A-Z0-9]{5,20}")


def id_number_text(value: object) -> tuple[str, Problem | None]:
    """The ID number as upper-case ASCII without spaces, or the Excel problem.

    A float cell, or text like ``1.10105E+17``, is an ID number Excel stored as a number:
    it keeps 15 significant digits, so the last digits of an 18-character ID are gone and
    no normalization can bring them back. Integers are kept (openpyxl returns an int when
    the sheet still holds every digit).
    """
    if isinstance(value, float):
        return "", Problem(INVALID_ID_NUMBER, EXCEL_LOST_DIGITS)
    text = cell_text(value).lstrip("'").replace(" ", "").upper()
    if _EXCEL_NUMBER.fullmatch(text):
        return "", Problem(INVALID_ID_NUMBER, EXCEL_LOST_DIGITS)
    return text, None


def _id_card_reason(number: str, today: date | None) -> str:
    if len(number) != 18:
        return f"must be 18 characters, got {len(number)}"
    if not _ID_CARD_SHAPE.fullmatch(number):
        return "must be 17 digits then a digit or X"
    if number[0] == "0":
        return "cannot start with 0"
    try:
        born = birth_date(number)
    except ValueError:
        return "birth date is not a real date"
    if born < EARLIEST_BIRTH or (today is not None and born > today):
        return "birth date is out of range"
    if check_char(number[:17]) != number[17]:
        if number.endswith("000"):
            # Excel's 15 significant digits: the sheet zeroed the last three characters.
            return "check digit does not match (Excel may have rounded it; format as text)"
        return "check digit does not match"
    return "invalid"  # pragma: no cover - is_valid_id_card and these reasons agree


def check_id_number(
    number: str, kind: IdType, *, today: date | None, typed: bool
) -> Problem | None:
    """Check a normalized number against its type. ``typed`` says whether the agency gave
    an ID type at all: without one a passport number fails as an ID card, and the message
    says how to fix that."""
    if not number:
        return Problem(MISSING_ID, "ID number is missing")
    masked = mask_id(number)
    if kind is IdType.ID_CARD:
        if is_valid_id_card(number, today=today):
            return None
        reason = _id_card_reason(number, today)
        hint = ""
        if not typed and re.search(r"[A-WYZ]", number):
            hint = "; add an id_type column (证件类型) for passports and permits"
        return Problem(INVALID_ID_NUMBER, f"invalid ID card number {masked}: {reason}{hint}")
    if _OTHER_ID.fullmatch(number):
        return None
    return Problem(
        INVALID_ID_NUMBER, f"invalid {kind.value} number {masked}: expected 5-20 letters or digits"
    )


# --- phones -------------------------------------------------------------------------------

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PLAUSIBLE_PHONE = re.compile(r"\+?[0-9]{5,20}(?:(?:EXT|X|#|转)[0-9]{1,6})?")
_MOBILE_LIKE = re.compile(r"(?:\+86|0086|86)?1[0-9]{9,11}")


def parse_phone(value: object) -> tuple[str | None, Problem | None]:
    """A mainland mobile number comes back as its 11 digits (``+86`` and separators
    dropped), so the per-phone purchase limits compare like with like.

    A landline or a foreign number is kept as given with a warning: a guide may well
    give the office number. Something that looks like a mistyped mobile, or is not a
    phone number at all, is an error.
    """
    text = cell_text(value).lstrip("'")
    if not text:
        return None, None
    compact = _PHONE_SEPARATORS.sub("", text).upper()
    mobile = _MOBILE.fullmatch(compact)
    if mobile:
        return mobile.group(1), None
    masked = mask_phone(compact)
    if len(text) > MAX_PHONE or not _PLAUSIBLE_PHONE.fullmatch(compact):
        return None, Problem(INVALID_PHONE, f"not a phone number: {masked}")
    if _MOBILE_LIKE.fullmatch(compact):
        return None, Problem(INVALID_PHONE, f"not a valid mobile number: {masked}")
    return text, Problem(
        INVALID_PHONE, f"not a mainland mobile number, kept as given: {masked}", warning=True
    )
