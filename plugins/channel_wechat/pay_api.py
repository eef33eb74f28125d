"""What the channel needs from WeChat Pay, whichever API version the merchant is on.

`PayV3` and `PayV2` (in their own modules) implement `PayGateway`; the rest of the plugin
only sees this Protocol, so a v2 merchant and a v3 merchant share every flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class PayError(Exception):
    """WeChat Pay refused or could not be reached. `retryable` tells the outbox whether
    trying again can help (network, 5xx, SYSTEMERROR) or not (a refusal for good)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Prepay:
    out_trade_no: str
    description: str
    total: int  # fen
    openid: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    refund: int  # fen
    total: int  # fen, the whole payment
    reason: str


class PayGateway(Protocol):
    async def prepay(self, order: Prepay) -> dict[str, str]:
        """Create WeChat's order; return the ``wx.requestPayment`` parameters."""
        ...

    async def query(self, out_trade_no: str) -> dict[str, str]:
        """WeChat's (verified) view of the order, normalised across versions: ``appid``,
        ``mchid``, ``out_trade_no``, ``trade_state``, ``transaction_id``, ``total``,
        ``openid``."""
        ...

    async def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (its hold expired); closing a closed order is fine."""
        ...

    async def refund(self, request: RefundRequest) -> str:
        """Ask for a refund, idempotent on ``out_refund_no``; returns WeChat's status."""
        ...
