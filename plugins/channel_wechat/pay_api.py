"""What the channel needs from WeChat Pay, whichever API version the merchant is on.

`PayV3` and `PayV2` (in their own modules) implement `PayGateway`; the rest of the plugin
only sees this Protocol, so a v2 merchant and a v3 merchant share every flow."""

from __future__ import annotations

import gzip
import ssl
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import aiohttp


class PayError(Exception):
    """WeChat Pay refused or could not be reached. `retryable` tells the outbox whether
    trying again can help (network, 5xx, SYSTEMERROR) or not (a refusal for good)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


def network_error(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a request that got no answer. A TLS failure says so: WeChat
    refusing the handshake (no or a wrong client certificate) or a server certificate the
    configured CAs do not trust is a setting to fix, not a flaky network."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientSSLError | ssl.SSLError):
            return "TLS", f"{type(exc).__name__}: {cause}"[:300]
        cause = cause.__cause__ or cause.__context__
    if (
        isinstance(exc, aiohttp.ClientConnectorError)
        and getattr(exc.args[0], "is_ssl", False)  # args: (connection key, OS error)
        and isinstance(exc.os_error, ConnectionResetError)
    ):
        # The server dropped the connection inside the TLS handshake: how a server that
        # requires a client certificate refuses a missing or untrusted one.
        return "TLS", "handshake refused (is the client certificate WeChat's, for this merchant?)"
    return "NETWORK", f"{type(exc).__name__}: {exc}"[:300]


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

    async def trade_bill(self, day: date) -> bytes:
        """The ALL trade bill of `day` (China time) as WeChat wrote it, unpacked and (v3)
        checked against the hash WeChat signed."""
        ...


#: WeChat's answers that mean "no bill of that day": nothing was paid or refunded.
NO_BILL = {"NO_STATEMENT_EXIST", "20002"}


def unpack_bill(raw: bytes) -> bytes:
    """A bill asked for with ``tar_type=GZIP``; a plain one is returned as it is."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise PayError("BAD_BILL", f"broken gzip: {exc}", retryable=True) from None
