"""The simulator's books (`sandbox.wechat.ledger.Ledger`): the rules both WeChat Pay
front doors (v2 XML, v3 JSON) share — one trade per trade number, one refund per refund
number, never more back than was paid. Each front door words the refusals its own way
(tests/sandbox_wechat/test_pay_*.py); here the rules themselves."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.wechat import ledger as books
from sandbox.wechat.ledger import Ledger, Refund, Refused, Transaction


def trade(no: str = "T1", *, api: str = "v3", total: int = 300, fp: Any = "a") -> Transaction:
    return Transaction(
        api=api,
        appid="wx1",
        mchid="m1",
        out_trade_no=no,
        description="tickets",
        notify_url="http://hub/notify",
        total=total,
        openid="o1",
        prepay_id=f"wx-{no}-{fp}",
        created_at=0.0,
        fingerprint=(fp,),
    )


def paid(ledger: Ledger, no: str = "T1", **kw: Any) -> Transaction:
    txn = ledger.open(trade(no, **kw))
    txn.state, txn.transaction_id = "SUCCESS", f"42{no}"
    return txn


def refund(ledger: Ledger, no: str, amount: int, *, total: int = 300, api: str = "v3") -> Any:
    def make(txn: Transaction) -> Refund:
        return Refund(
            api=api,
            out_refund_no=no,
            refund_id=f"50{no}",
            out_trade_no=txn.out_trade_no,
            transaction_id=txn.transaction_id,
            total=txn.total,
            refund=amount,
            reason="",
            notify_url=txn.notify_url,
            created_at=1.0,
            fingerprint=(total, amount),
        )

    return ledger.refund(
        api,
        no,
        (total, amount),
        out_trade_no="T1",
        transaction_id=None,
        total=total,
        amount=amount,
        make=make,
    )


def reason(call: Any) -> str:
    with pytest.raises(Refused) as refused:
        call()
    return refused.value.reason


def test_the_same_trade_request_again_gets_the_first_trade() -> None:
    ledger = Ledger()
    first = ledger.open(trade())
    again = ledger.open(trade())  # a new prepay id was drawn, the first one stands
    assert again is first and len(ledger.transactions) == 1
    assert reason(lambda: ledger.open(trade(fp="other"))) == books.DUPLICATE
    assert reason(lambda: ledger.open(trade(api="v2"))) == books.DUPLICATE


def test_a_paid_or_closed_trade_number_is_not_reopened() -> None:
    ledger = Ledger()
    paid(ledger)
    assert reason(lambda: ledger.open(trade())) == books.PAID
    ledger.open(trade("T2")).state = "CLOSED"
    assert reason(lambda: ledger.open(trade("T2"))) == books.CLOSED


def test_refunds_are_booked_once_and_never_exceed_what_was_paid() -> None:
    ledger = Ledger()
    txn = paid(ledger)
    first, new = refund(ledger, "R1", 100)
    assert new and txn.refundable == 200
    again, new = refund(ledger, "R1", 100)
    assert again is first and not new and txn.refundable == 200  # a retry books nothing
    assert reason(lambda: refund(ledger, "R1", 50)) == books.REFUND_DIFFERS
    assert reason(lambda: refund(ledger, "R2", 250)) == books.TOO_MUCH
    assert reason(lambda: refund(ledger, "R2", 10, total=999)) == books.TOTAL_DIFFERS
    last, new = refund(ledger, "R2", 200)
    assert new and last.refund == 200 and txn.refundable == 0


def test_a_refund_needs_a_paid_trade_of_its_own_api() -> None:
    ledger = Ledger()
    assert reason(lambda: refund(ledger, "R1", 100)) == books.NO_TRADE
    ledger.open(trade())
    assert reason(lambda: refund(ledger, "R1", 100)) == books.UNPAID
    other = Ledger()
    paid(other, api="v2")
    assert reason(lambda: refund(other, "R1", 100)) == books.NO_TRADE  # v3 asking


def test_a_refund_whose_making_fails_books_nothing() -> None:
    ledger = Ledger()
    txn = paid(ledger)

    def refuse(_: Transaction) -> Refund:
        raise RuntimeError("balance too low")

    with pytest.raises(RuntimeError):
        ledger.refund(
            "v3",
            "R1",
            (),
            out_trade_no="T1",
            transaction_id=None,
            total=300,
            amount=100,
            make=refuse,
        )
    assert txn.refundable == 300 and not ledger.refunds
