"""WeChat Pay's books: transactions and refunds, shared by the v3 and v2 front doors.

A transaction remembers which API created it (``v3`` or ``v2``), so its notifications go
out in the same dialect, and the fingerprint of its creating request, so a repeated
``out_trade_no`` with the same content returns the same prepay_id and a different
content is refused as WeChat refuses it.

The rules of the books — a trade number or a refund number used once, what a refund may
take back — are the same behind both front doors and live here (`Ledger.open`,
`Ledger.refund`); a refusal is a `Refused` with a neutral reason that each front door
words with its own API's codes and messages.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8))


def rfc3339(ts: float) -> str:
    """WeChat v3 times: ``2026-11-22T15:04:05+08:00``."""
    return datetime.fromtimestamp(ts, CHINA).isoformat(timespec="seconds")


def v2_time(ts: float) -> str:
    """WeChat v2 times: ``20261122150405`` (Beijing time)."""
    return datetime.fromtimestamp(ts, CHINA).strftime("%Y%m%d%H%M%S")


def new_transaction_id(ts: float) -> str:
    return (
        "4200"
        + datetime.fromtimestamp(ts, CHINA).strftime("%Y%m%d")
        + str(secrets.randbelow(10**16)).zfill(16)
    )


def new_refund_id() -> str:
    return "50" + str(secrets.randbelow(10**27)).zfill(27)


def new_prepay_id(ts: float) -> str:
    return "wx" + datetime.fromtimestamp(ts, CHINA).strftime("%d%H%M%S") + secrets.token_hex(12)


@dataclass
class Transaction:
    api: str  # "v3" or "v2"
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int  # fen
    openid: str
    prepay_id: str
    created_at: float
    fingerprint: tuple[Any, ...]
    attach: str = ""
    currency: str = "CNY"
    v2_sign_type: str = "MD5"
    state: str = "NOTPAY"  # NOTPAY, SUCCESS, CLOSED, REFUND
    transaction_id: str = ""
    success_time: float | None = None
    refunded: int = 0  # fen refunded or being refunded

    @property
    def refundable(self) -> int:
        return self.total - self.refunded

    def state_desc(self) -> str:
        return {
            "NOTPAY": "订单未支付",
            "SUCCESS": "支付成功",
            "CLOSED": "订单已关闭",
            "REFUND": "转入退款",
        }[self.state]

    def v3_resource(self) -> dict[str, Any]:
        """The transaction object of v3 queries and TRANSACTION.SUCCESS notices."""
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.state,
            "trade_state_desc": self.state_desc(),
            "attach": self.attach,
            "payer": {"openid": self.openid},
            "amount": {"total": self.total, "currency": self.currency},
        }
        if self.transaction_id:
            body.update(
                transaction_id=self.transaction_id,
                trade_type="JSAPI",
                bank_type="OTHERS",
                success_time=rfc3339(self.success_time or self.created_at),
            )
            body["amount"].update(payer_total=self.total, payer_currency=self.currency)
        return body


@dataclass
class Refund:
    api: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    total: int
    refund: int
    reason: str
    notify_url: str
    created_at: float
    fingerprint: tuple[Any, ...]
    status: str = "PROCESSING"  # PROCESSING, SUCCESS, ABNORMAL, CLOSED
    success_time: float | None = None
    refused: bool = False  # settle as ABNORMAL (fault `refund_refused`)

    def v3_resource(self, mchid: str) -> dict[str, Any]:
        """The refund object of v3 answers and REFUND.* notices."""
        body: dict[str, Any] = {
            "mchid": mchid,
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.created_at),
            "status": self.status,
            "refund_status": self.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": self.total,
                "refund": self.refund,
                "payer_total": self.total,
                "payer_refund": self.refund,
                "settlement_total": self.total,
                "settlement_refund": self.refund,
                "discount_refund": 0,
                "currency": "CNY",
                "refund_fee": 0,
            },
        }
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        return body


PAID = "paid"  # the trade was paid (or is being refunded)
CLOSED = "closed"
DUPLICATE = "duplicate"  # the trade number was used by another request
NO_TRADE = "no_trade"  # no such trade, or one of the other API
UNPAID = "unpaid"  # a refund of a trade that was never paid
TOTAL_DIFFERS = "total_differs"  # a refund naming another trade total
TOO_MUCH = "too_much"  # more than is left to refund
REFUND_DIFFERS = "refund_differs"  # the refund number was used by another request


class Refused(Exception):
    """The books refuse a request; `reason` (one of the constants above) is worded by
    the front door that asked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Ledger:
    transactions: dict[str, Transaction] = field(default_factory=dict)  # by out_trade_no
    refunds: dict[str, Refund] = field(default_factory=dict)  # by out_refund_no
    lock: threading.RLock = field(default_factory=threading.RLock)

    def by_transaction_id(self, transaction_id: str) -> Transaction | None:
        for txn in self.transactions.values():
            if txn.transaction_id and txn.transaction_id == transaction_id:
                return txn
        return None

    def find(self, out_trade_no: str | None, transaction_id: str | None) -> Transaction | None:
        if transaction_id:
            return self.by_transaction_id(transaction_id)
        if out_trade_no:
            return self.transactions.get(out_trade_no)
        return None

    def open(self, txn: Transaction) -> Transaction:
        """The transaction of ``txn.out_trade_no``: `txn` itself when the number is new,
        the first one when the same request comes again (same prepay_id); `Refused` when
        that trade was paid, closed, or created by a different request."""
        with self.lock:
            first = self.transactions.get(txn.out_trade_no)
            if first is None:
                self.transactions[txn.out_trade_no] = txn
                return txn
            if first.state in ("SUCCESS", "REFUND"):
                raise Refused(PAID)
            if first.state == "CLOSED":
                raise Refused(CLOSED)
            if first.fingerprint != txn.fingerprint or first.api != txn.api:
                raise Refused(DUPLICATE)
            return first

    def refund(
        self,
        api: str,
        out_refund_no: str,
        fingerprint: tuple[Any, ...],
        *,
        out_trade_no: str | None,
        transaction_id: str | None,
        total: int,
        amount: int,
        make: Callable[[Transaction], Refund],
    ) -> tuple[Refund, bool]:
        """Book a refund of ``amount`` fen: ``(refund, True)`` for a new one, which the
        caller settles; ``(first refund, False)`` when the same request comes again.
        `make` builds the refund from its trade once every rule holds (it may still
        raise, e.g. a simulated refusal: nothing is booked then)."""
        with self.lock:
            first = self.refunds.get(out_refund_no)
            if first is not None:
                if first.fingerprint != fingerprint or first.api != api:
                    raise Refused(REFUND_DIFFERS)
                return first, False
            txn = self.find(out_trade_no, transaction_id)
            if txn is None or txn.api != api:
                raise Refused(NO_TRADE)
            if txn.state not in ("SUCCESS", "REFUND"):
                raise Refused(UNPAID)
            if total != txn.total:
                raise Refused(TOTAL_DIFFERS)
            if amount > txn.refundable:
                raise Refused(TOO_MUCH)
            refund = make(txn)
            txn.refunded += refund.refund
            self.refunds[out_refund_no] = refund
            return refund, True
