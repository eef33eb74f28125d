"""What the channel remembers, in its plugin store: trades, sessions, refunds.

Keys are WeChat's own where WeChat has one (``out_trade_no``, ``out_refund_no``,
``transaction_id``), so a retried message finds what the first one wrote.

``out_trade_no`` must be unique per MERCHANT, and one merchant may serve several hubs
(venues): so it is random, drawn once per (visitor, client key) and remembered — a
retried create gets the number the first one drew, another hub draws its own.
``out_refund_no`` is derived from it (unique with it), so a retried refund is one refund.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

NS = "wechat"
SESSION_TTL = timedelta(days=2)


def new_out_trade_no() -> str:
    """32 characters of [0-9a-zA-Z] (WeChat's limit): ``TH`` and 120 random bits, so
    hubs sharing a merchant never draw the same number."""
    return "TH" + secrets.token_hex(15)


def derived_out_trade_no(openid: str, client_key: str) -> str:
    """The number hubs before random numbers derived from (visitor, client key) alone —
    identical on every hub of a merchant. Only read, to keep such orders' retries."""
    return "TH" + hashlib.sha256(f"{openid}\x1f{client_key}".encode()).hexdigest()[:30]


def out_refund_no(out_trade: str, reason: str, ticket_ids: Iterable[str] = ()) -> str:
    blob = "\x1f".join([out_trade, reason, *sorted(ticket_ids)])
    return "RF" + hashlib.sha256(blob.encode()).hexdigest()[:30]


def session_key_of(token: str) -> str:
    """Sessions are stored under the token's hash: a leaked table grants no logins."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_openid(openid: str | None) -> str:
    if not openid:
        return "-"
    return openid[:4] + "***" + openid[-2:] if len(openid) > 8 else "***"


class Trades:
    """Typed access to the plugin store (`hub.plugin_store.PluginStore`)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def get(self, out_trade: str) -> dict[str, Any] | None:
        return await self.store.get("trade", out_trade)

    async def out_trade_no(self, openid: str, client_key: str) -> str:
        """The order number of the visitor's client key: drawn at the first create, the
        same for every retry (also concurrent ones, in any hub process: the first insert
        wins and the others read it)."""
        key = hashlib.sha256(f"{openid}\x1f{client_key}".encode()).hexdigest()
        known = await self.store.get("client_key", key)
        if known is not None:
            return str(known["out_trade_no"])
        # An order created before numbers were random keeps its number.
        legacy = derived_out_trade_no(openid, client_key)
        old = await self.get(legacy)
        drawn = legacy if old is not None and old.get("openid") == openid else new_out_trade_no()
        if await self.store.add("client_key", key, {"out_trade_no": drawn}):
            return drawn
        first = await self.store.get("client_key", key)
        assert first is not None  # added by the concurrent create that won
        return str(first["out_trade_no"])

    async def put(self, out_trade: str, doc: dict[str, Any]) -> None:
        await self.store.put("trade", out_trade, doc)
        await self.store.put("user", f"{doc['openid']}/{doc['created']}/{out_trade}", {})

    async def of_user(self, openid: str, limit: int = 50) -> list[str]:
        rows = await self.store.list("user", prefix=f"{openid}/", limit=500)
        return [key.rsplit("/", 1)[1] for key, _ in rows][-limit:][::-1]

    async def note_payment(self, transaction_id: str, doc: dict[str, Any]) -> bool:
        """True the first time this WeChat transaction is seen (atomic)."""
        return bool(await self.store.add("payment", transaction_id, doc))

    # Refunds are keyed "<out_trade_no>/<out_refund_no>": a trade's refunds list by prefix.
    async def refund(self, out_trade: str, refund_no: str) -> dict[str, Any] | None:
        return await self.store.get("refund", f"{out_trade}/{refund_no}")

    async def add_refund(
        self, out_trade: str, refund_no: str, doc: dict[str, Any]
    ) -> dict[str, Any]:
        """Record a refund once; a retry reads the first record (its amount is fixed)."""
        key = f"{out_trade}/{refund_no}"
        if await self.store.add("refund", key, doc):
            return doc
        return await self.store.get("refund", key) or doc

    async def set_refund(self, out_trade: str, refund_no: str, doc: dict[str, Any]) -> None:
        await self.store.put("refund", f"{out_trade}/{refund_no}", doc)

    async def refunds(self, out_trade: str) -> list[dict[str, Any]]:
        return [d for _, d in await self.store.list("refund", prefix=f"{out_trade}/")]

    async def session(self, token: str) -> dict[str, Any] | None:
        return await self.store.get("session", session_key_of(token))

    async def new_session(self, token: str, doc: dict[str, Any]) -> None:
        await self.store.put("session", session_key_of(token), doc, ttl=SESSION_TTL)
