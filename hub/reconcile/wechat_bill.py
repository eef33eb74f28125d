"""The WeChat Pay trade bill (v3 ``tradebill`` and v2 ``downloadbill``, type ALL), read
strictly: a statement we half-understand must not turn into discrepancies.

The file is CSV, UTF-8: the header line, one line per transaction with every field
prefixed by a backtick (so spreadsheets keep long numbers as text), then a summary header
(``总交易单数,…``) and one summary line. Amounts are yuan. A payment is a line in state
SUCCESS (or REVOKED when it was reversed); a refund is its own line in state REFUND on the
day it was made.

Decisions on input that is not quite that:
- UTF-8 with a byte-order mark is accepted (a bill saved back by Excel has one); GBK is
  refused with a clear error (WeChat writes UTF-8; a GBK file was re-saved by a person,
  and the error names the first line that is not UTF-8);
- a gzip file (``tar_type=GZIP``) is unpacked;
- an XML body is WeChat's error answer, not a bill: refused with its message;
- missing summary (a truncated download), a line with the wrong number of fields or a
  field without its backtick, a transaction on another day, another merchant id, or
  summary totals that differ from the sum of the lines: refused, naming the line.

The summary is checked column by column against the sum of the same column over the
transaction lines (count, settled total, refunds, fees, order total, requested refunds).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import operator
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from hub.domain.digits import ascii_int
from hub.reconcile.money import fen_of

CHINA = ZoneInfo("Asia/Shanghai")  # WeChat Pay's clock, whatever the venue's zone

COLUMNS = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
)
SUMMARY = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)
# summary column -> the line column it totals
SUMMED = {
    "应结订单总金额": "应结订单金额",
    "退款总金额": "退款金额",
    "充值券退款总金额": "充值券退款金额",
    "手续费总金额": "手续费",
    "订单总金额": "订单金额",
    "申请退款总金额": "申请退款金额",
}
PAYMENT_STATES = ("SUCCESS", "REVOKED")
STATES = (*PAYMENT_STATES, "REFUND")
COL = {name: i for i, name in enumerate(COLUMNS)}
I_STATE, I_OUT_TRADE, I_OUT_REFUND = COL["交易状态"], COL["商户订单号"], COL["商户退款单号"]
I_TXN, I_REFUND_ID, I_REFUND_STATE = COL["微信订单号"], COL["微信退款单号"], COL["退款状态"]
I_AMOUNT, I_REFUND_AMOUNT = COL["订单金额"], COL["申请退款金额"]
SUMMED_AT = tuple((col, COL[col]) for col in SUMMED.values())
_CENT = Decimal("0.01")
_FIRST = operator.itemgetter(0)
_BACKTICK = {"`"}
_ZEROS = frozenset(("0.00", "0", "0.00000", "-0.00000"))
FEE = "手续费"
_CENTS = re.compile(r"-?[0-9]+\.[0-9]{2}\Z")  # yuan with two decimals: int() of it is fen
_FEE = re.compile(r"-?[0-9]+\.[0-9]{5}\Z")  # fees: five decimals


class BillError(ValueError):
    """The file is not a bill we can import; `line` is 1-based (0: the file as a whole)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(slots=True)  # not frozen: its __init__ is twice as fast, 100,000 times a bill
class BillLine:
    line_no: int
    at: datetime  # aware, China time
    merchant: str
    transaction_id: str
    out_trade_no: str
    state: str  # SUCCESS | REVOKED | REFUND
    amount: int  # fen: the order amount (payment) or the requested refund (refund)
    refund_id: str = ""
    out_refund_no: str = ""
    refund_state: str = ""

    @property
    def is_refund(self) -> bool:
        return self.state == "REFUND"


@dataclass(frozen=True, slots=True)
class Bill:
    day: date
    merchant: str
    sha256: str
    lines: list[BillLine]
    totals: dict[str, str]  # the summary line as read (yuan text; fees keep 5 decimals)


def decode(raw: bytes) -> str:
    """Bytes to text: gzip unpacked, a UTF-8 BOM dropped, anything else not UTF-8
    refused naming its line (and saying GBK when it reads as GBK)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BillError(0, f"a broken gzip file: {exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        try:
            raw.decode("gbk")
            hint = (
                "the file is GBK-encoded; WeChat bills are UTF-8 "
                "(re-download it, or save it as UTF-8)"
            )
        except UnicodeDecodeError:
            hint = "the file is not UTF-8 text"
        raise BillError(line, hint) from None


def _field(value: str, line: int, column: str) -> str:
    if not value.startswith("`"):
        raise BillError(line, f"{column}: field does not start with a backtick: {value[:40]!r}")
    return value[1:]


def _money(value: str, line: int, column: str) -> int:
    try:
        return fen_of(value)
    except ValueError as exc:
        raise BillError(line, f"{column}: {exc}") from None


def _decimal(value: str, line: int, column: str) -> Decimal:
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        raise BillError(line, f"{column}: not an amount: {value[:40]!r}") from None
    if not d.is_finite():
        raise BillError(line, f"{column}: not an amount: {value[:40]!r}")
    return d


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def _rows(text: str) -> list[list[str]]:
    """The CSV's rows. A line without a double quote has no quoted field, and splitting
    it on commas is what the csv reader would do — at a fraction of the cost; the others
    (a product name with a comma, quoted) go through the reader."""
    lines = text.splitlines()
    if '"' in text:
        return list(csv.reader(lines))
    return [line.split(",") if line else [] for line in lines]


def parse(raw: bytes, *, day: date, merchant: str) -> Bill:
    """The bill of `day` for `merchant`, every line checked, or BillError."""
    if not merchant:
        raise BillError(0, "no merchant id to check the bill against (WECHAT_MCHID)")
    text = decode(raw)
    if text.lstrip().startswith("<xml"):
        found = re.search(r"<return_msg>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</return_msg>", text)
        raise BillError(
            1, f"WeChat answered an error, not a bill: {found[1] if found else text[:80]}"
        )
    rows = _rows(text)
    if not rows or tuple(c.strip() for c in rows[0]) != COLUMNS:
        got = ",".join(rows[0])[:120] if rows else "(empty file)"
        raise BillError(
            1, f"not an ALL trade bill header ({len(COLUMNS)} columns 交易时间…费率备注): {got}"
        )
    lines: list[BillLine] = []
    sums = Sums()
    summary_at = 0
    iso = day.isoformat()
    for n, row in enumerate(rows[1:], start=2):
        if row and row[0].strip() == SUMMARY[0]:
            summary_at = n
            break
        # (a line's first field is its time: only a blank one needs the whole row looked at)
        if not row or (not row[0].strip() and not any(c.strip() for c in row)):
            raise BillError(n, "empty line before the summary")
        lines.append(_line(row, n, iso, merchant, sums))
    if not summary_at:
        raise BillError(len(rows), "the file ends without its summary (总交易单数…): truncated?")
    totals = _summary(rows, summary_at, len(lines), sums.totals())
    return Bill(day, merchant, hashlib.sha256(text.encode()).hexdigest(), lines, totals)


class Sums:
    """The summed columns' totals, exact. Amounts in the bill's usual form (``12.34``; a
    fee ``0.12340``) are added as integers of their smallest unit — a string check and an
    ``int``, not a `Decimal` per field, 300,000 times a bill; any other form goes through
    `Decimal` (and its checks) as before."""

    __slots__ = ("other", "units")

    def __init__(self) -> None:
        self.units = dict.fromkeys(SUMMED.values(), 0)
        self.other = {col: Decimal(0) for col in SUMMED.values()}

    def add(self, col: str, text: str, n: int) -> None:
        places = 5 if col == FEE else 2
        if (_FEE if places == 5 else _CENTS).match(text):
            self.units[col] += int(text.replace(".", "", 1))
            return
        value = _decimal(text, n, col)
        if places == 2 and value != value.quantize(_CENT):  # fees have 5 decimals
            raise BillError(n, f"{col}: not an amount with two decimals: {text[:40]!r}")
        self.other[col] += value

    def totals(self) -> dict[str, Decimal]:
        return {
            col: Decimal(units).scaleb(-5 if col == FEE else -2) + self.other[col]
            for col, units in self.units.items()
        }


_SUMMED_FAST = tuple((col, i, _FEE if col == FEE else _CENTS) for col, i in SUMMED_AT)


def _line(row: list[str], n: int, iso: str, merchant: str, sums: Sums) -> BillLine:
    """One transaction line. The hot path of a 100,000-line bill: checks are plain string
    operations first, the precise (slower) error message only once one fails; only the
    fields read are cut from their backtick."""
    if len(row) != len(COLUMNS):
        raise BillError(n, f"{len(row)} fields, a bill line has {len(COLUMNS)}")
    try:
        marked = set(map(_FIRST, row)) == _BACKTICK
    except IndexError:  # an empty field: not even its backtick
        marked = False
    if not marked:
        for i, v in enumerate(row):
            _field(v, n, COLUMNS[i])
    when = row[0][1:]
    if len(when) != 19 or not _TIME.match(when):
        raise BillError(n, f"交易时间: not a time: {when[:40]!r}")
    if when[:10] != iso:
        raise BillError(n, f"交易时间 {when} is not on the bill's date {iso}")
    try:
        at = datetime.fromisoformat(when).replace(tzinfo=CHINA)
    except ValueError:
        raise BillError(n, f"交易时间: not a time: {when!r}") from None
    if row[2][1:] != merchant:
        raise BillError(n, f"商户号 {row[2][1:]!r} is not this merchant ({merchant})")
    state = row[I_STATE][1:]
    if state not in STATES:
        raise BillError(n, f"交易状态 {state!r} is none of {', '.join(STATES)}")
    units = sums.units
    for col, i, usual in _SUMMED_FAST:
        value = row[i][1:]
        if value not in _ZEROS:
            if usual.match(value):  # `Sums.add`, inline: 300,000 times a bill
                units[col] += int(value.replace(".", "", 1))
            else:
                sums.add(col, value, n)
    refund = state == "REFUND"
    out_trade = row[I_OUT_TRADE][1:]
    if not out_trade:
        raise BillError(n, "商户订单号 is empty")
    out_refund = row[I_OUT_REFUND][1:] if refund else ""
    if refund and not out_refund:
        raise BillError(n, "a REFUND line without 商户退款单号")
    amount = row[I_REFUND_AMOUNT if refund else I_AMOUNT][1:]
    return BillLine(
        line_no=n,
        at=at,
        merchant=merchant,
        transaction_id=row[I_TXN][1:],
        out_trade_no=out_trade,
        state=state,
        amount=int(amount.replace(".", "", 1))
        if _CENTS.match(amount)
        else _money(amount, n, "amount"),
        refund_id=row[I_REFUND_ID][1:] if refund else "",
        out_refund_no=out_refund,
        refund_state=row[I_REFUND_STATE][1:] if refund else "",
    )


def _summary(
    rows: list[list[str]], at: int, count: int, sums: dict[str, Decimal]
) -> dict[str, str]:
    header = tuple(c.strip() for c in rows[at - 1])
    if header != SUMMARY:
        raise BillError(at, f"summary header is not {','.join(SUMMARY)}")
    if len(rows) <= at or not rows[at]:
        raise BillError(at + 1, "the summary header has no summary line: truncated?")
    values = rows[at]
    if len(values) != len(SUMMARY):
        raise BillError(at + 1, f"{len(values)} summary fields, expected {len(SUMMARY)}")
    got = {name: _field(v, at + 1, name) for name, v in zip(SUMMARY, values, strict=True)}
    for extra_n, extra in enumerate(rows[at + 1 :], start=at + 2):
        if any(c.strip() for c in extra):
            raise BillError(extra_n, "text after the summary line")
    if ascii_int(got["总交易单数"]) != count:
        raise BillError(at + 1, f"总交易单数 {got['总交易单数']} but the bill has {count} lines")
    for name, col in SUMMED.items():
        stated = _decimal(got[name], at + 1, name)
        if stated != sums[col]:
            raise BillError(
                at + 1, f"{name} {got[name]} but the lines' {col} add up to {sums[col]}"
            )
    return got
