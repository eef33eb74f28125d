"""The WeChat bill parser: the real format in, every kind of bad file refused with the
line that is wrong, nothing guessed."""

from __future__ import annotations

import gzip
from datetime import date, datetime, timedelta

import pytest

from hub.reconcile.bill_writer import Txn, render
from hub.reconcile.wechat_bill import CHINA, BillError, parse

DAY = date(2026, 12, 6)
MCH = "1900000109"
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=CHINA)


def _bill() -> bytes:
    return render(
        [
            Txn(NOON, "TH0001", 8000, "4200001"),
            Txn(NOON + timedelta(minutes=1), "TH0002", 12345, "4200002"),
            Txn(NOON + timedelta(minutes=2), "TH0001", 3000, "4200001", "REFUND", "RF1", "501"),
        ],
        MCH,
    )


def _lines(raw: bytes) -> list[str]:
    return raw.decode("utf-8").split("\r\n")


def _join(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


def test_a_bill_reads_payments_and_refunds_in_fen() -> None:
    bill = parse(_bill(), day=DAY, merchant=MCH)
    assert [(b.state, b.out_trade_no, b.amount) for b in bill.lines] == [
        ("SUCCESS", "TH0001", 8000),
        ("SUCCESS", "TH0002", 12345),
        ("REFUND", "TH0001", 3000),
    ]
    refund = bill.lines[2]
    assert (refund.out_refund_no, refund.refund_state, refund.line_no) == ("RF1", "SUCCESS", 4)
    assert bill.lines[0].at == NOON
    assert bill.totals["总交易单数"] == "3"
    assert bill.totals["订单总金额"] == "203.45"


def test_a_bom_is_accepted_and_hashes_like_the_plain_file() -> None:
    plain = parse(_bill(), day=DAY, merchant=MCH)
    bom = parse(b"\xef\xbb\xbf" + _bill(), day=DAY, merchant=MCH)
    assert bom.lines == plain.lines and bom.sha256 == plain.sha256


def test_gzip_is_unpacked() -> None:
    assert len(parse(gzip.compress(_bill()), day=DAY, merchant=MCH).lines) == 3


def test_gbk_is_refused_naming_the_line() -> None:
    text = _bill().decode("utf-8")
    with pytest.raises(BillError, match=r"line 1: the file is GBK-encoded") as info:
        parse(text.encode("gbk"), day=DAY, merchant=MCH)
    assert info.value.line == 1


def test_a_truncated_file_is_refused() -> None:
    lines = _lines(_bill())
    cut = [ln for ln in lines if not ln.startswith("总交易单数")][:4]
    with pytest.raises(BillError, match="ends without its summary"):
        parse(_join(cut), day=DAY, merchant=MCH)
    with pytest.raises(BillError, match="no summary line"):
        parse(_join(lines[:5]), day=DAY, merchant=MCH)


def test_wrong_columns_are_refused() -> None:
    lines = _lines(_bill())
    with pytest.raises(BillError, match="line 1: not an ALL trade bill header"):
        parse(_join(["a,b,c", *lines[1:]]), day=DAY, merchant=MCH)
    short = lines[2].rsplit(",", 1)[0]
    with pytest.raises(BillError, match="line 3: 26 fields, a bill line has 27"):
        parse(_join([lines[0], lines[1], short, *lines[3:]]), day=DAY, merchant=MCH)
    bare = lines[2].replace(",`TH0002,", ",TH0002,")
    with pytest.raises(BillError, match="line 3: 商户订单号: field does not start with a backtick"):
        parse(_join([lines[0], lines[1], bare, *lines[3:]]), day=DAY, merchant=MCH)


def test_another_day_or_merchant_is_refused_naming_the_line() -> None:
    with pytest.raises(
        BillError,
        match=r"line 2: 交易时间 2026-12-06 12:00:00 is not on the bill's date 2026-12-07",
    ):
        parse(_bill(), day=DAY + timedelta(days=1), merchant=MCH)
    with pytest.raises(
        BillError, match=r"line 2: 商户号 '1900000109' is not this merchant \(1900000999\)"
    ):
        parse(_bill(), day=DAY, merchant="1900000999")
    with pytest.raises(BillError, match="no merchant id"):
        parse(_bill(), day=DAY, merchant="")


def test_summary_totals_must_add_up() -> None:
    lines = _lines(_bill())
    at = next(i for i, ln in enumerate(lines) if ln.startswith("总交易单数")) + 1
    summary = lines[at].split(",")
    summary[5] = "`203.46"
    lines[at] = ",".join(summary)
    with pytest.raises(
        BillError,
        match=rf"line {at + 1}: 订单总金额 203.46 but the lines' 订单金额 add up to 203.45",
    ):
        parse(_join(lines), day=DAY, merchant=MCH)
    summary[0], summary[5] = "`4", "`203.45"
    lines[at] = ",".join(summary)
    with pytest.raises(BillError, match="总交易单数 4 but the bill has 3 lines"):
        parse(_join(lines), day=DAY, merchant=MCH)


def test_an_amount_that_is_not_money_is_refused() -> None:
    lines = _lines(_bill())
    lines[1] = lines[1].replace("`80.00,`0.00,`0,", "`80.001,`0.00,`0,", 1)
    with pytest.raises(BillError, match="line 2: 应结订单金额: not an amount with two decimals"):
        parse(_join(lines), day=DAY, merchant=MCH)
    lines = _lines(_bill())
    lines[2] = lines[2].replace("`123.45,`0.00,`0,", "`12x.45,`0.00,`0,", 1)
    with pytest.raises(BillError, match=r"line 3: 应结订单金额: not an amount: '12x\.45'"):
        parse(_join(lines), day=DAY, merchant=MCH)


def test_an_error_answer_is_not_a_bill() -> None:
    xml = (
        b"<xml><return_code><![CDATA[FAIL]]></return_code>"
        b"<return_msg><![CDATA[No Bill Exist]]></return_msg></xml>"
    )
    with pytest.raises(BillError, match="WeChat answered an error, not a bill: No Bill Exist"):
        parse(xml, day=DAY, merchant=MCH)


def test_quoted_fields_and_unusual_amount_forms_read_as_before() -> None:
    """The parser's fast paths (comma split without quotes, integer sums of ``12.34`` and
    ``0.48000``) give what the csv reader and `Decimal` give: a quoted product name with a
    comma, an amount written ``80.0``, a fee with six decimals."""
    lines = _lines(_bill())
    first = lines[1].split(",")
    first[20] = '"`门票,成人"'  # 商品名称 with a comma, quoted
    first[12] = first[24] = "`80.0"  # 应结订单金额 / 订单金额 with one decimal
    first[22] = "`0.480000"  # 手续费 with six decimals
    lines[1] = ",".join(first)
    bill = parse(_join(lines), day=DAY, merchant=MCH)
    assert [(b.out_trade_no, b.amount) for b in bill.lines] == [
        ("TH0001", 8000),
        ("TH0002", 12345),
        ("TH0001", 3000),
    ]
    assert bill.totals["订单总金额"] == "203.45"
    lines = _lines(_bill())
    fee = lines[1].split(",")
    fee[22] = "`0.4800001"  # 手续费: the fees no longer add up to the summary's
    lines[1] = ",".join(fee)
    with pytest.raises(BillError, match=r"手续费总金额 .* add up to 1\.0407001"):
        parse(_join(lines), day=DAY, merchant=MCH)
    lines = _lines(_bill())
    bad = lines[1].split(",")
    bad[24] = "`80.001"
    lines[1] = ",".join(bad)
    with pytest.raises(BillError, match="line 2: 订单金额: not an amount with two decimals"):
        parse(_join(lines), day=DAY, merchant=MCH)
