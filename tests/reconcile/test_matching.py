"""Each matching rule on plain values: what it finds, what it must not find."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hub.reconcile.matching import HubPayment, HubRefund, match
from hub.reconcile.service import wechat_day
from hub.reconcile.wechat_bill import CHINA, BillLine

DAY = wechat_day(date(2026, 12, 6), timedelta(minutes=5))
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=CHINA)


def pay(otn: str, amount: int = 8000, at: datetime = NOON, state: str = "SUCCESS") -> BillLine:
    return BillLine(2, at, "m", "42" + otn, otn, state, amount)


def refund(otn: str, rno: str, amount: int = 8000, status: str = "SUCCESS") -> BillLine:
    return BillLine(3, NOON, "m", "42" + otn, otn, "REFUND", amount, "50" + rno, rno, status)


def hub(
    otn: str, amount: int = 8000, at: datetime | None = NOON, state: str = "confirmed"
) -> HubPayment:
    return HubPayment("o-" + otn, otn, amount, state, at)


def kinds(found: list) -> list[tuple[str, str, str]]:
    return sorted((f.kind, f.rule, f.ref) for f in found)


def test_agreeing_books_find_nothing() -> None:
    lines = [pay("A"), pay("B", 100), refund("A", "R1", 3000)]
    payments = {"A": hub("A"), "B": hub("B", 100, NOON + timedelta(seconds=2))}
    refunds = {"R1": HubRefund("A", "R1", 3000, "SUCCESS", NOON)}
    assert match(lines, payments, refunds, DAY) == []


def test_each_kind_names_its_rule() -> None:
    lines = [
        pay("UNKNOWN"),
        pay("AMOUNT", 8100),
        pay("UNPAID"),
        pay("DUP"),
        pay("DUP"),
        pay("REV", state="REVOKED"),
        refund("X", "R-UNKNOWN"),
        refund("AMOUNT", "R-AMOUNT", 100),
        refund("DUP", "R-PENDING"),
    ]
    payments = {
        "AMOUNT": hub("AMOUNT"),
        "UNPAID": hub("UNPAID", at=None, state="expired"),
        "DUP": hub("DUP"),
        "REV": hub("REV"),
        "HUBONLY": hub("HUBONLY", at=NOON - timedelta(hours=3)),
        "FREE": hub("FREE", 0),  # a free order is never paid at WeChat
    }
    refunds = {
        "R-AMOUNT": HubRefund("AMOUNT", "R-AMOUNT", 200, "SUCCESS", NOON),
        "R-PENDING": HubRefund("DUP", "R-PENDING", 8000, "REQUESTED", NOON),
        "R-HUB": HubRefund("HUBONLY", "R-HUB", 500, "SUCCESS", NOON),
    }
    assert kinds(match(lines, payments, refunds, DAY)) == [
        ("amount_mismatch", "wechat.pay.amount", "pay:AMOUNT"),
        ("amount_mismatch", "wechat.refund.amount", "refund:R-AMOUNT"),
        ("duplicate", "wechat.line.repeated", "pay:DUP#2"),
        ("hub_only", "wechat.pay.not_at_wechat", "pay:HUBONLY"),
        ("hub_only", "wechat.refund.not_at_wechat", "refund:R-HUB"),
        ("partner_only", "wechat.pay.not_in_hub", "pay:UNKNOWN"),
        ("partner_only", "wechat.refund.not_in_hub", "refund:R-UNKNOWN"),
        ("status_mismatch", "wechat.pay.hub_unpaid", "pay:UNPAID"),
        ("status_mismatch", "wechat.pay.revoked_at_wechat", "pay:REV"),
        ("status_mismatch", "wechat.refund.status", "refund:R-PENDING"),
    ]


def test_crossing_midnight_within_the_window_only() -> None:
    late = DAY.end - timedelta(seconds=30)  # 23:59:30 in the hub, tomorrow at WeChat
    early_next = DAY.end + timedelta(seconds=4)  # the hub confirmed after WeChat's midnight
    lines = [pay("NEXT", at=DAY.end - timedelta(seconds=1))]
    payments = {
        "LATE": hub("LATE", at=late),
        "NEXT": hub("NEXT", at=early_next),
        "TOMORROW": hub("TOMORROW", at=DAY.end + timedelta(minutes=1)),  # not this day's
        "EARLIER": hub("EARLIER", at=DAY.start - timedelta(minutes=2)),  # yesterday's
        "STALE": hub("STALE", at=DAY.end - timedelta(minutes=30)),  # outside the window
    }
    assert kinds(match(lines, payments, {}, DAY)) == [
        ("crossed_midnight", "wechat.pay.clears_next_day", "pay:LATE"),
        ("crossed_midnight", "wechat.pay.crossed_midnight", "pay:NEXT"),
        ("hub_only", "wechat.pay.not_at_wechat", "pay:STALE"),
    ]
    far = {"NEXT": hub("NEXT", at=DAY.end + timedelta(hours=2))}
    assert kinds(match(lines, far, {}, DAY)) == [
        ("status_mismatch", "wechat.pay.other_day", "pay:NEXT")
    ]


def test_a_refund_of_another_trade_is_not_a_match() -> None:
    refunds = {"R1": HubRefund("A", "R1", 8000, "SUCCESS", NOON)}
    found = match([refund("B", "R1")], {}, refunds, DAY)
    assert kinds(found) == [("partner_only", "wechat.refund.not_in_hub", "refund:R1")]


def test_a_late_payment_the_hub_refunded_in_full_is_settled() -> None:
    """Paid at WeChat after the order expired or was cancelled: the hub refunds it on its
    own (refund line on the bill); only a late payment NOT given back is a mismatch."""
    lines = [pay("LATE"), refund("LATE", "R-LATE"), pay("KEPT"), pay("PART")]
    payments = {
        "LATE": hub("LATE", at=None, state="cancelled"),
        "KEPT": hub("KEPT", at=None, state="expired"),
        "PART": hub("PART", at=None, state="expired"),
    }
    refunds = {
        "R-LATE": HubRefund("LATE", "R-LATE", 8000, "SUCCESS", NOON),
        "R-PART": HubRefund("PART", "R-PART", 3000, "REQUESTED", NOON),
    }
    assert kinds(match(lines, payments, refunds, DAY)) == [
        ("hub_only", "wechat.refund.not_at_wechat", "refund:R-PART"),
        ("status_mismatch", "wechat.pay.hub_unpaid", "pay:KEPT"),
        ("status_mismatch", "wechat.pay.hub_unpaid", "pay:PART"),
    ]
