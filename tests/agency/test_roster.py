"""Rosters: every format an agency's Excel can produce, and every way a row can be wrong.

Fixture files are built in the tests (openpyxl for .xlsx), so what each test feeds the
parser is visible next to what it asserts.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from hub.domain import IdType, Visitor
from hub.domain.rules.idcard import check_char
from plugins.channel_agency.roster import (
    RosterParse,
    RowError,
    check_visitors,
    parse_roster,
    roster_report_csv,
    to_csv,
    to_xlsx,
    validate_visitors,
)

EXCEL_MESSAGE = "ID number lost its digits in Excel; format the column as text"


def make_id(birth: str = "19900307", seq: str = "123", region: str = "110101") -> str:
    first17 = region + birth + seq
    return first17 + check_char(first17)


A = make_id(seq="123")
B = make_id(birth="19851120", seq="456")
C = make_id(birth="20010101", seq="789")
ID_X = "11010519491231002X"  # the GB 11643-1999 example, ends in X
ID_INT = next(make_id(seq=f"{n:03d}") for n in range(1000) if make_id(seq=f"{n:03d}")[-1] != "X")
PHONE = "13812345678"


def csv_bytes(
    rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8", newline: str = "\r\n"
) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]], *, start_row: int = 1) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for offset, row in enumerate(rows):
        for col, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=start_row + offset, column=col, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def codes(result: RosterParse) -> list[tuple[int, str, str]]:
    return [(e.row, e.field, e.code) for e in result.errors]


HEADER = ["姓名", "证件类型", "证件号码", "手机号"]


# --- formats ------------------------------------------------------------------------------


def test_utf8_csv_reads_every_visitor_with_sheet_rows() -> None:
    data = csv_bytes([HEADER, ["张三", "身份证", A, PHONE], ["李四", "", B, ""]])
    result = parse_roster(data, filename="roster.csv", content_type="text/csv")
    assert result.ok and result.warnings == []
    assert result.visitors == [
        Visitor(name="张三", id_type=IdType.ID_CARD, id_number=A, phone=PHONE),
        Visitor(name="李四", id_type=IdType.ID_CARD, id_number=B, phone=None),
    ]
    assert result.rows == [2, 3]


def test_bom_csv() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes([["姓名", "身份证号"], ["张三", A]])
    result = parse_roster(data)
    assert result.ok
    assert [v.name for v in result.visitors] == ["张三"]


def test_gbk_csv_from_chinese_excel() -> None:
    data = csv_bytes([HEADER, ["欧阳娜娜", "护照", "E12345678", PHONE]], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse_roster(data, content_type="application/vnd.ms-excel")
    assert result.ok
    assert result.visitors == [
        Visitor(name="欧阳娜娜", id_type=IdType.PASSPORT, id_number="E12345678", phone=PHONE)
    ]


def test_utf16_tab_separated_unicode_text_export() -> None:
    data = csv_bytes([HEADER, ["张三", "身份证", A, PHONE]], delimiter="\t", encoding="utf-16")
    assert parse_roster(data).visitors[0].id_number == A


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated(delimiter: str) -> None:
    # A name with a comma: a comma-first guess would split it.
    data = csv_bytes(
        [HEADER, ["Smith, John", "passport", "P1234567", ""], ["王五", "1", B, ""]],
        delimiter=delimiter,
    )
    result = parse_roster(data)
    assert codes(result) == []
    assert [v.name for v in result.visitors] == ["Smith, John", "王五"]


def test_english_headers_any_case_and_spacing_with_a_title_row() -> None:
    data = csv_bytes(
        [
            ["Sunrise Travel – group 0412", "", "", ""],
            [" Name ", "ID Type", "IDNo", "MOBILE"],
            ["Ann Lee", "Passport", "X9876543", ""],
            ["张三", "ID_CARD", A, ""],
        ]
    )
    result = parse_roster(data)
    assert codes(result) == []
    assert result.rows == [3, 4]  # the header is row 2, as in the sheet
    assert [v.id_type for v in result.visitors] == [IdType.PASSPORT, IdType.ID_CARD]


def test_missing_required_column_is_named() -> None:
    result = parse_roster(csv_bytes([["姓名", "手机号"], ["张三", PHONE]]))
    assert codes(result) == [(0, "id_number", "MISSING_COLUMN")]
    assert "证件号码" in result.errors[0].message
    assert result.visitors == []


def test_two_columns_for_one_field_is_refused() -> None:
    result = parse_roster(csv_bytes([["姓名", "身份证号", "证件号码"], ["张三", A, B]]))
    assert codes(result) == [(0, "id_number", "DUPLICATE_COLUMN")]


def test_missing_id_type_column_means_id_card_and_hints_for_passports() -> None:
    result = parse_roster(csv_bytes([["name", "id_number"], ["张三", A], ["Ann", "E12345678"]]))
    assert result.visitors == [Visitor(name="张三", id_number=A)]
    assert codes(result) == [(3, "id_number", "INVALID_ID_NUMBER")]
    assert "id_type column" in result.errors[0].message


# --- Excel --------------------------------------------------------------------------------


def exact_numbers(data: bytes, numbers: dict[int, str]) -> bytes:
    """Rewrite marker numbers in the sheet XML as exact integers.

    openpyxl (like Excel) stores an 18-digit int as a double, but other generators write
    every digit (``<v>110101199003071233</v>``), which openpyxl reads back as ``int``.
    """
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                for marker, digits in numbers.items():
                    content = content.replace(
                        f"<v>{marker}</v>".encode(), f"<v>{digits}</v>".encode()
                    )
            target.writestr(info, content)
    return out.getvalue()


def test_xlsx_with_int_id_cells_keeps_every_digit() -> None:
    data = xlsx_bytes(
        [
            HEADER,
            ["张三", 1, 424242, int(PHONE)],
            ["Ann", 2, "E12345678", None],
            ["林", "台胞证", 12345678, None],
        ]
    )
    data = exact_numbers(data, {424242: ID_INT})
    result = parse_roster(data, filename="名单.xlsx")
    assert codes(result) == []
    assert result.visitors == [
        Visitor(name="张三", id_type=IdType.ID_CARD, id_number=ID_INT, phone=PHONE),
        Visitor(name="Ann", id_type=IdType.PASSPORT, id_number="E12345678"),
        Visitor(name="林", id_type=IdType.TAIWAN_PERMIT, id_number="12345678"),
    ]


def test_xlsx_float_id_cell_is_refused_with_the_excel_message() -> None:
    data = xlsx_bytes([HEADER, ["张三", "身份证", float(ID_INT), PHONE], ["李四", "身份证", B, ""]])
    result = parse_roster(data)
    assert codes(result) == [(2, "id_number", "INVALID_ID_NUMBER")]
    assert result.errors[0].message == EXCEL_MESSAGE
    assert [v.name for v in result.visitors] == ["李四"]


@pytest.mark.parametrize("shown", ["1.10105E+17", "1.1010519491231E+17", "110101199003071000.0"])
def test_csv_with_excel_scientific_notation_is_refused(shown: str) -> None:
    result = parse_roster(csv_bytes([["姓名", "证件号码"], ["张三", shown]]))
    assert [(e.code, e.message) for e in result.errors] == [("INVALID_ID_NUMBER", EXCEL_MESSAGE)]


def test_xlsx_title_row_and_gaps_keep_sheet_row_numbers() -> None:
    data = xlsx_bytes(
        [["XX旅行社 游客名单"], [], HEADER, ["张三", None, A], [], ["李四", None, "123"]],
        start_row=1,
    )
    result = parse_roster(data)
    assert result.rows == [4]
    assert codes(result) == [(6, "id_number", "INVALID_ID_NUMBER")]


def test_xlsx_styled_to_the_last_row_stops_reading() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "证件号码"])
    sheet.append(["张三", A])
    sheet.cell(row=1_000_000, column=1, value=" ")  # a stray cell far below
    out = io.BytesIO()
    book.save(out)
    result = parse_roster(out.getvalue())
    assert result.ok and result.rows == [2]


# Built once: a workbook carries its creation time, and hypothesis needs the same bytes.
GOOD_XLSX = xlsx_bytes([HEADER, ["张三", "身份证", A, PHONE]])


def test_truncated_xlsx_is_unreadable() -> None:
    data = xlsx_bytes([HEADER, ["张三", "身份证", A, PHONE]])
    for cut in (len(data) // 2, len(data) - 30, 10):
        result = parse_roster(data[:cut], filename="roster.xlsx")
        assert codes(result) == [(0, "file", "UNREADABLE")], cut


def test_a_zip_that_is_not_a_workbook_is_unreadable() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert codes(parse_roster(out.getvalue())) == [(0, "file", "UNREADABLE")]


def test_zip_bomb_is_refused_before_inflating() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 400_000)
    result = parse_roster(out.getvalue(), max_bytes=20_000)
    assert codes(result) == [(0, "file", "UNREADABLE")]
    assert "expands" in result.errors[0].message


def test_legacy_xls_and_html_disguised_as_xls_are_explained() -> None:
    xls = parse_roster(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), filename="a.xls")
    assert codes(xls) == [(0, "file", "UNREADABLE")] and ".xls" in xls.errors[0].message
    html = parse_roster(b"<html><table><tr><td>\xe5\xa7\x93\xe5\x90\x8d</td></tr></table>")
    assert codes(html) == [(0, "file", "UNREADABLE")] and "web page" in html.errors[0].message


def test_random_bytes_are_unreadable() -> None:
    junk = bytes(range(256)) * 8 + os.urandom(2048)
    assert codes(parse_roster(junk)) == [(0, "file", "UNREADABLE")]
    assert codes(parse_roster(junk, filename="x.xlsx")) == [(0, "file", "UNREADABLE")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_result_never_an_exception(data: bytes) -> None:
    result = parse_roster(data)
    assert isinstance(result, RosterParse)
    assert all(isinstance(e, RowError) for e in result.errors)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_damage_to_an_xlsx_gives_a_result(data: st.DataObject) -> None:
    good = GOOD_XLSX
    at = data.draw(st.integers(0, len(good) - 1))
    patch = data.draw(st.binary(min_size=1, max_size=8))
    result = parse_roster(good[:at] + patch + good[at + len(patch) :])
    assert isinstance(result, RosterParse)


# --- limits -------------------------------------------------------------------------------


def test_too_large_file_is_refused_before_reading() -> None:
    data = csv_bytes([HEADER, ["张三", "身份证", A, PHONE]])
    result = parse_roster(data + b" " * 3_000_000)
    assert codes(result) == [(0, "file", "ROSTER_TOO_LARGE")]
    assert codes(parse_roster(data, max_bytes=len(data) - 1)) == [(0, "file", "ROSTER_TOO_LARGE")]
    assert parse_roster(data, max_bytes=len(data)).ok


def test_too_many_rows() -> None:
    people = [["张三", make_id(seq=f"{n:03d}")] for n in range(4)]
    assert codes(parse_roster(csv_bytes([["姓名", "证件号码"], *people]), max_rows=3)) == [
        (0, "roster", "TOO_MANY_ROWS")
    ]
    assert parse_roster(csv_bytes([["姓名", "证件号码"], *people[:3]]), max_rows=3).ok
    assert codes(parse_roster(xlsx_bytes([["姓名", "证件号码"], *people]), max_rows=3)) == [
        (0, "roster", "TOO_MANY_ROWS")
    ]


def test_default_limit_is_500_visitors() -> None:
    people = [
        ["游" + chr(0x4E00 + n), make_id(birth=f"19{n // 12 + 40:02d}{n % 12 + 1:02d}15")]
        for n in range(501)
    ]
    assert codes(parse_roster(csv_bytes([["姓名", "证件号码"], *people]))) == [
        (0, "roster", "TOO_MANY_ROWS")
    ]
    assert len(parse_roster(csv_bytes([["姓名", "证件号码"], *people[:500]])).visitors) == 500


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \r\n",
        "姓名,证件类型,证件号码,手机号\r\n".encode(),
        "姓名,证件类型,证件号码,手机号\r\n,,,\r\n,身份证,,\r\n".encode(),
    ],
)
def test_header_only_or_empty_is_empty_roster(data: bytes) -> None:
    assert [e.code for e in parse_roster(data).errors] == ["EMPTY_ROSTER"]


def test_header_only_xlsx_is_empty_roster() -> None:
    assert [e.code for e in parse_roster(xlsx_bytes([HEADER])).errors] == ["EMPTY_ROSTER"]


# --- rows ---------------------------------------------------------------------------------


def test_duplicate_is_reported_on_the_second_row_naming_the_first() -> None:
    data = csv_bytes(
        [
            HEADER,
            ["张三", "", ID_X, ""],
            ["李四", "", B, ""],
            ["张三", "", ID_X.lower(), ""],  # same number, lowercase x
            ["王五", "", B, ""],
        ]
    )
    result = parse_roster(data)
    assert codes(result) == [
        (4, "id_number", "DUPLICATE_IN_GROUP"),
        (5, "id_number", "DUPLICATE_IN_GROUP"),
    ]
    assert "row 2" in result.errors[0].message and "row 3" in result.errors[1].message
    assert result.rows == [2, 3]


def test_bad_check_digit_and_other_id_card_faults() -> None:
    wrong = A[:17] + ("0" if A[17] != "0" else "1")
    rows = [
        ["a", "", wrong, ""],  # check digit
        ["b", "", A[:17], ""],  # 17 characters
        ["c", "", "110101199002300012", ""],  # 30 February
        ["d", "", A[:6] + "20990101" + "123" + check_char(A[:6] + "20990101123"), ""],  # future
        ["e", "", "110101199003071000", ""],  # Excel zeroed the last three
    ]
    result = parse_roster(csv_bytes([HEADER, *rows]), today=date(2026, 1, 1))
    assert [e.code for e in result.errors] == ["INVALID_ID_NUMBER"] * 5
    messages = [e.message for e in result.errors]
    assert "check digit" in messages[0]
    assert "18 characters" in messages[1]
    assert "birth date" in messages[2] and "birth date" in messages[3]
    assert "Excel" in messages[4]
    assert result.visitors == []


def test_full_width_digits_spaces_and_lowercase_x_are_normalized() -> None:
    full_width = ID_X[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "ｘ"
    data = csv_bytes(
        [HEADER, ["\u3000张 三 ", " 身份证 ", f" {full_width}\u3000", "１３８ １２３４ ５６７８ "]]
    )
    result = parse_roster(data)
    assert codes(result) == []
    assert result.visitors == [Visitor(name="张 三", id_number=ID_X, phone=PHONE)]


@pytest.mark.parametrize(
    ("label", "kind", "number"),
    [
        ("身份证", IdType.ID_CARD, A),
        ("id_card", IdType.ID_CARD, A),
        ("1", IdType.ID_CARD, A),
        ("护照", IdType.PASSPORT, "E12345678"),
        ("Passport", IdType.PASSPORT, "E12345678"),
        ("2", IdType.PASSPORT, "E12345678"),
        ("港澳通行证", IdType.HK_MACAU_PERMIT, "C12345678"),
        ("台胞证", IdType.TAIWAN_PERMIT, "12345678"),
        ("外国人永久居留证", IdType.FOREIGNER_PERMIT, "USA123456789012"),
    ],
)
def test_id_type_labels(label: str, kind: IdType, number: str) -> None:
    result = parse_roster(csv_bytes([HEADER, ["某人", label, number, ""]]))
    assert codes(result) == []
    assert result.visitors[0].id_type is kind


def test_unknown_id_type_and_bad_passport() -> None:
    data = csv_bytes(
        [HEADER, ["a", "驾驶证", A, ""], ["b", "护照", "E12", ""], ["c", "护照", "E1234-567", ""]]
    )
    assert codes(parse_roster(data)) == [
        (2, "id_type", "UNKNOWN_ID_TYPE"),
        (3, "id_number", "INVALID_ID_NUMBER"),
        (4, "id_number", "INVALID_ID_NUMBER"),
    ]


def test_missing_name_and_missing_id_on_one_row() -> None:
    result = parse_roster(csv_bytes([HEADER, ["", "身份证", "", PHONE], ["张三", "", A, ""]]))
    assert codes(result) == [(2, "name", "MISSING_NAME"), (2, "id_number", "MISSING_ID")]
    assert result.rows == [3]


def test_names_with_digits_are_refused() -> None:
    result = parse_roster(csv_bytes([HEADER, [A, "", A, ""]]))
    assert codes(result) == [(2, "name", "INVALID_NAME")]


@pytest.mark.parametrize(
    ("given", "stored"),
    [("+86 138 1234 5678", PHONE), ("138-1234-5678", PHONE), ("008613812345678", PHONE)],
)
def test_mobile_numbers_are_normalized(given: str, stored: str) -> None:
    result = parse_roster(csv_bytes([HEADER, ["张三", "", A, given]]))
    assert result.ok and result.warnings == []
    assert result.visitors[0].phone == stored


@pytest.mark.parametrize("given", ["010-62345678", "+44 20 7946 0958", "0571-8888 6666转123"])
def test_landline_or_foreign_phone_is_a_warning_and_kept(given: str) -> None:
    result = parse_roster(csv_bytes([HEADER, ["张三", "", A, given]]))
    assert result.ok
    assert [(w.row, w.field, w.code) for w in result.warnings] == [(2, "phone", "INVALID_PHONE")]
    assert result.visitors[0].phone == given


@pytest.mark.parametrize(
    "given", ["12345678901", "1381234567", "call me", "138123456789999999999999"]
)
def test_garbage_or_mistyped_mobile_is_an_error(given: str) -> None:
    result = parse_roster(csv_bytes([HEADER, ["张三", "", A, given]]))
    assert codes(result) == [(2, "phone", "INVALID_PHONE")]
    assert result.visitors == []


def test_messages_never_contain_a_full_id_or_phone() -> None:
    wrong = A[:17] + ("0" if A[17] != "0" else "1")
    ids = [A, A, wrong, "E1234-5678", B]
    phones = ["12345678901", "010-62345678", PHONE, "1381234567x", "13900001111"]
    rows = [["张三", "", number, phone] for number, phone in zip(ids, phones, strict=True)]
    rows.append(["李四", B, "", ""])  # an ID number typed into the ID type column
    rows.append([PHONE, "身份证", "", ""])  # a phone in the name column
    result = parse_roster(csv_bytes([HEADER, *rows]))
    assert len(result.errors) >= 6
    texts = [e.message for e in result.errors + result.warnings]
    texts.append(roster_report_csv(result.errors, result.warnings))
    secrets = {*ids, *phones, "62345678", "1234-5678", B}
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)
    assert any("1101**********" in t for t in texts)


# --- JSON rosters -------------------------------------------------------------------------


def test_json_roster_same_rules_rows_by_position() -> None:
    visitors = [
        Visitor(name="张三", id_number=A, phone="+86 138 1234 5678"),
        Visitor(name="", id_number=B),
        Visitor(name="王五", id_number=A),
        Visitor(name="Ann", id_type=IdType.PASSPORT, id_number="E12"),
    ]
    errors = validate_visitors(visitors)
    assert [(e.row, e.field, e.code) for e in errors] == [
        (2, "name", "MISSING_NAME"),
        (3, "id_number", "DUPLICATE_IN_GROUP"),
        (4, "id_number", "INVALID_ID_NUMBER"),
    ]
    checked = check_visitors(visitors)
    assert checked.visitors == [Visitor(name="张三", id_number=A, phone=PHONE)]
    assert checked.rows == [1]


def test_json_roster_normalizes_full_width_and_limits() -> None:
    full = Visitor(
        name="张三", id_number=A.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )
    assert check_visitors([full]).visitors == [Visitor(name="张三", id_number=A)]
    assert [e.code for e in validate_visitors([])] == ["EMPTY_ROSTER"]
    many = [Visitor(name="张三", id_number=make_id(seq=f"{n:03d}")) for n in range(3)]
    assert [e.code for e in validate_visitors(many, max_rows=2)] == ["TOO_MANY_ROWS"]
    assert validate_visitors(many, max_rows=3) == []


def test_json_landline_is_only_a_warning() -> None:
    result = check_visitors([Visitor(name="张三", id_number=A, phone="010-62345678")])
    assert result.errors == [] and [w.code for w in result.warnings] == ["INVALID_PHONE"]
    assert validate_visitors([Visitor(name="张三", id_number=A, phone="010-62345678")]) == []


# --- writers ------------------------------------------------------------------------------


def test_report_csv_lists_problems_by_row_and_is_formula_safe() -> None:
    errors = [
        RowError(5, "id_number", "INVALID_ID_NUMBER", "bad"),
        RowError(0, "file", "MISSING_COLUMN", '=HYPERLINK("http://x")'),
    ]
    warnings = [RowError(5, "phone", "INVALID_PHONE", "odd")]
    report = roster_report_csv(errors, warnings)
    rows = list(csv.reader(io.StringIO(report)))
    assert rows == [
        ["row", "severity", "field", "code", "message"],
        ["0", "error", "file", "MISSING_COLUMN", '\'=HYPERLINK("http://x")'],
        ["5", "error", "id_number", "INVALID_ID_NUMBER", "bad"],
        ["5", "warning", "phone", "INVALID_PHONE", "odd"],
    ]


def test_to_csv_has_bom_and_keeps_ids_as_text_for_excel() -> None:
    data = to_csv([Visitor(name="张三", id_number=A, phone=PHONE)])
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "姓名,证件类型,证件号码,手机号"
    assert lines[1] == f"张三,身份证,\t{A},\t{PHONE}"
    assert (
        to_csv([Visitor(name="张三", id_number=A)], excel_text=False)
        .decode("utf-8-sig")
        .split("\r\n")[1]
        == f"张三,身份证,{A},"
    )


# --- round trips --------------------------------------------------------------------------

_SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗欧阳"
_NAME_CHARS = st.sampled_from([*_SURNAMES, *"abcXYZ", " ", "·", ",", '"', ";", "'"])


@st.composite
def visitors(draw: st.DrawFn) -> Visitor:
    name = " ".join(draw(st.text(_NAME_CHARS, min_size=1, max_size=12)).split())
    if not name or name.startswith("'"):
        name = "张" + name
    kind = draw(st.sampled_from(list(IdType)))
    if kind is IdType.ID_CARD:
        born = draw(st.dates(date(1930, 1, 1), date(2020, 12, 31)))
        region = draw(st.sampled_from(["110101", "310104", "440305", "510107"]))
        number = make_id(born.strftime("%Y%m%d"), f"{draw(st.integers(0, 999)):03d}", region)
    else:
        number = draw(st.from_regex(r"[A-Z0-9]{5,20}", fullmatch=True))
    phone = draw(st.none() | st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    return Visitor(name=name, id_type=kind, id_number=number, phone=phone)


rosters = st.lists(visitors(), min_size=1, max_size=12, unique_by=lambda v: v.id_number)


@settings(max_examples=80, deadline=None)
@given(rosters, st.booleans())
def test_any_valid_roster_round_trips_through_csv(people: list[Visitor], excel: bool) -> None:
    result = parse_roster(to_csv(people, excel_text=excel))
    assert (result.errors, result.warnings) == ([], [])
    assert result.visitors == people
    assert result.rows == list(range(2, len(people) + 2))
    assert check_visitors(people).visitors == people


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rosters)
def test_any_valid_roster_round_trips_through_xlsx(people: list[Visitor]) -> None:
    result = parse_roster(to_xlsx(people), filename="roster.xlsx")
    assert (result.errors, result.warnings) == ([], [])
    assert result.visitors == people


def test_an_xlsx_claiming_an_unsupported_zip_version_is_unreadable_not_a_crash() -> None:
    """zipfile raises NotImplementedError for versions it cannot extract (found by
    hypothesis): that must be the sender's UNREADABLE file, never an exception."""
    from plugins.channel_agency.roster import parse_roster, to_xlsx

    data = bytearray(to_xlsx([]))
    central = data.find(b"PK\x01\x02")
    assert central > 0
    data[central + 6 : central + 8] = (64).to_bytes(2, "little")  # "needs version 6.4"
    result = parse_roster(bytes(data), filename="group.xlsx")
    assert [e.code for e in result.errors] == ["UNREADABLE"]


def test_loading_the_plugins_does_not_import_openpyxl() -> None:
    """Every hub start loads every plugin; openpyxl (~60 ms of CPU) waits for a roster."""
    probe = (
        "import sys\n"
        "from hub.plugins import build_plugins\n"
        "build_plugins(quiet=True)\n"
        "import plugins.channel_agency.groups  # the routes the hub mounts at start\n"
        "assert 'plugins.channel_agency.roster_xlsx' in sys.modules\n"
        "print('openpyxl' in sys.modules)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.strip() == "False", ran.stdout + ran.stderr
