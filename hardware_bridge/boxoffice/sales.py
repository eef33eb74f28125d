"""The emergency box office of one bridge: sells from the allotment the hub set aside
for this bridge while the hub cannot be reached, and keeps every sale durably in the
bridge's own SQLite file before it answers.

Why each refusal: online, sales belong to the hub's box office (one inventory, one
truth) — the bridge sells only when the link is down. Beyond what the hub set aside for
this bridge it refuses: those units may be sold online by now. A slot that has ended is
not sold. Without a key the venue certified (or with one expired or revoked) it cannot
sign a credential any gate would accept, so it does not take the money.

The signing key is this bridge's own Ed25519 key, made at its first start and kept in
its SQLite file (`private key never leaves the bridge`); staff certify its public half
at the hub (``POST /api/admin/emergency/keys``), and the certificate comes down with
every sync, together with this bridge's allotments (`hardware_bridge.boxoffice.sync`).
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hardware_bridge.decide import VenueView
from hardware_bridge.store import BridgeStore
from hub.domain.catalog import ProductKind, SlotInfo
from hub.domain.credentials import CredentialClaims, CredentialSigner, generate_keypair
from hub.domain.delegation import BridgeKeyCertificate, CertificateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS em_orders (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    product_id TEXT NOT NULL,
    pool TEXT NOT NULL,
    day TEXT NOT NULL,
    slot TEXT NOT NULL DEFAULT '',
    units INTEGER NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    answer TEXT NOT NULL DEFAULT '',
    sold_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_em_orders_cell ON em_orders(pool, day, slot);
CREATE INDEX IF NOT EXISTS ix_em_orders_state ON em_orders(state, n);
"""
KEY_META = "emergency_private_key"
STATE_META = "emergency_state"
MAX_TICKETS = 20


class SaleRefused(Exception):
    """A sale the box office will not make; `code` for programs, `reason` for staff
    (Chinese first, then English)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sale:
    order_id: str
    product_id: str
    product_name: str
    day: str
    slot: str
    amount: int
    payment: str
    payment_ref: str
    tickets: list[dict[str, str]]  # id, credential
    sold_at: str
    state: str = "pending"

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "date": self.day,
            "slot": self.slot,
            "amount": self.amount,
            "payment": self.payment,
            "payment_ref": self.payment_ref,
            "tickets": self.tickets,
            "sold_at": self.sold_at,
            "state": self.state,
        }


class BoxOffice:
    def __init__(
        self,
        store: BridgeStore,
        bridge_id: str,
        venue_id: str,
        view: Callable[[], VenueView | None],
        is_online: Callable[[], bool],
    ) -> None:
        self.store = store
        self.bridge_id = bridge_id
        self.venue_id = venue_id
        self._view = view
        self._online = is_online
        store.db.executescript(SCHEMA)
        private = store.meta(KEY_META)
        if not private:
            private, _ = generate_keypair()
            store.set_meta(KEY_META, private)
        self._private = private
        raw = Ed25519PrivateKey.from_private_bytes(_b64(private)).public_key()
        self.public_key = _b64s(
            raw.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    # -- what the hub said -------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return self.store.meta_json(STATE_META) or {}

    def set_state(self, state: dict[str, Any]) -> None:
        self.store.set_meta(STATE_META, json.dumps(state, separators=(",", ":")))

    def certificate(self, now: datetime) -> BridgeKeyCertificate | None:
        """This bridge's own certificate, when the venue certified its key, it is valid
        now and not revoked (the hub sends only unrevoked ones)."""
        view = self._view()
        state = self.state()
        if view is None:
            return None
        trusted = view.verifier.key_ids  # certificates that verified, unrevoked
        revoked = set(state.get("revoked", []))
        for data in state.get("keys", []):
            try:
                cert = BridgeKeyCertificate.from_dict(data)
            except CertificateError:
                continue
            if (
                cert.bridge_id == self.bridge_id
                and cert.public_key == self.public_key
                and cert.key_id not in revoked
                and cert.key_id in trusted
                and cert.valid_at(now)
            ):
                return cert
        return None

    def allotments(self) -> list[dict[str, Any]]:
        """The allotments with what this bridge sold of each (synced or not)."""
        out = []
        for a in self.state().get("allotments", []):
            sold = self.sold(a["pool"], a["day"], a["slot"])
            out.append({**a, "sold": sold, "left": max(0, int(a["quantity"]) - sold)})
        return out

    def sold(self, pool: str, day: str, slot: str) -> int:
        row = self.store.db.execute(
            "SELECT COALESCE(SUM(units), 0) FROM em_orders"
            " WHERE pool = ? AND day = ? AND slot = ? AND state != 'refused'",
            (pool, day, slot),
        ).fetchone()
        return int(row[0])

    # -- selling ---------------------------------------------------------------------------
    def sell(
        self,
        *,
        product_id: str,
        day: date,
        slot: str,
        quantity: int,
        payment: str,
        payment_ref: str,
        staff: str,
        now: datetime,
        sale_key: str = "",
    ) -> Sale:
        """Sell `quantity` tickets, durably, or raise `SaleRefused`. `sale_key` (the
        form's or the client's) makes a double submit answer the first sale."""
        order_id = f"{self.bridge_id}-{sale_key or uuid.uuid4().hex}"
        known = self.order(order_id)
        if known is not None:
            return known
        view = self._view()
        if view is None:
            raise SaleRefused("NOT_CONFIGURED", "网桥尚未从中心同步配置 / bridge not set up yet")
        if self._online():
            raise SaleRefused(
                "HUB_REACHABLE",
                "中心系统可用：请在正常售票窗口售票 / the hub is reachable: sell at its box office",
            )
        if not 1 <= quantity <= MAX_TICKETS:
            raise SaleRefused("INVALID_QUANTITY", f"数量须为 1–{MAX_TICKETS} / quantity 1..20")
        if payment not in ("cash", "external"):
            raise SaleRefused("INVALID_PAYMENT", "付款方式：现金或外部支付 / cash or external")
        if payment == "external" and not payment_ref.strip():
            raise SaleRefused(
                "PAYMENT_REF_REQUIRED",
                "外部支付须填写支付流水号 / external payment needs a reference",
            )
        product = view.products.get(product_id)
        if product is None or not product.active:
            raise SaleRefused("UNKNOWN_PRODUCT", f"无此产品 / unknown product {product_id}")
        if product.kind is ProductKind.COMBO or not product.pool:
            raise SaleRefused(
                "COMBO_NOT_SOLD", "应急窗口不售联票 / combos are not sold at the emergency window"
            )
        try:
            info = SlotInfo.parse(slot)
        except ValueError:
            raise SaleRefused("UNKNOWN_SLOT", f"时段格式错误 / bad slot {slot!r}") from None
        end = (
            datetime.combine(day, info.end, view.tz)
            if slot
            else datetime.combine(day + timedelta(days=1), time(0), view.tz)
        )
        if end <= now:
            raise SaleRefused("SLOT_ENDED", f"{day} {slot or '全天'} 已结束 / this slot has ended")
        price = product.price_for("emergency", day, None)
        if price is None:
            raise SaleRefused("NO_PRICE", f"{day} 无售价 / no price on that day")
        cert = self.certificate(now)
        if cert is None:
            raise SaleRefused(
                "NO_CERTIFIED_KEY",
                "本网桥密钥未获授权、已过期或已吊销 / this bridge's key is not certified, "
                "expired or revoked",
            )
        allotment = next(
            (
                a
                for a in self.state().get("allotments", [])
                if a["pool"] == product.pool and a["day"] == day.isoformat() and a["slot"] == slot
            ),
            None,
        )
        if allotment is None:
            raise SaleRefused(
                "NO_ALLOTMENT", f"{day} {slot or '全天'} 无应急配额 / no emergency allotment"
            )
        start = datetime.combine(day, time(0), view.tz).astimezone(UTC)
        signer = CredentialSigner(self._private, cert.key_id)
        tickets = []
        for _ in range(quantity):
            ticket_id = secrets.token_hex(8)
            claims = CredentialClaims(
                ticket_id=ticket_id,
                product_id=product.id,
                valid_from=start,
                valid_until=min(start + timedelta(days=product.valid_days), cert.valid_until),
                entries_allowed=product.entries_allowed(),
                key_id=cert.key_id,
            )
            tickets.append({"id": ticket_id, "credential": signer.sign(claims)})
        sale = Sale(
            order_id=order_id,
            product_id=product.id,
            product_name=product.name,
            day=day.isoformat(),
            slot=slot,
            amount=price * quantity,
            payment=payment,
            payment_ref=payment_ref.strip(),
            tickets=tickets,
            sold_at=now.isoformat(),
        )
        body = {
            "id": order_id,
            "product_id": product.id,
            "travel_date": day.isoformat(),
            "slot": slot,
            "unit_price": price,
            "amount": price * quantity,
            "payment": payment,
            "payment_ref": sale.payment_ref,
            "staff": staff,
            "sold_at": now.isoformat(),
            "tickets": tickets,
        }
        with self.store.tx() as conn:
            # checked and written in one write transaction: two windows of this bridge
            # cannot both take the last unit
            left = int(allotment["quantity"]) - self._sold_in(conn, product.pool, day, slot)
            if quantity > left:
                raise SaleRefused(
                    "ALLOTMENT_EXHAUSTED",
                    f"应急配额不足：仅剩 {left} 张 / only {left} left of the emergency allotment",
                )
            conn.execute(
                "INSERT INTO em_orders(id, product_id, pool, day, slot, units, body, sold_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order_id,
                    product.id,
                    product.pool,
                    day.isoformat(),
                    slot,
                    quantity,
                    json.dumps({**body, "product_name": product.name}, ensure_ascii=False),
                    now.isoformat(),
                ),
            )
        return sale

    @staticmethod
    def _sold_in(conn: sqlite3.Connection, pool: str, day: date, slot: str) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(units), 0) FROM em_orders"
            " WHERE pool = ? AND day = ? AND slot = ? AND state != 'refused'",
            (pool, day.isoformat(), slot),
        ).fetchone()
        return int(row[0])

    # -- reading back ------------------------------------------------------------------------
    def order(self, order_id: str) -> Sale | None:
        row = self.store.db.execute("SELECT * FROM em_orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else _sale(row)

    def orders(self, limit: int = 50) -> list[Sale]:
        rows = self.store.db.execute(
            "SELECT * FROM em_orders ORDER BY n DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_sale(r) for r in rows]

    def pending(self, limit: int) -> list[sqlite3.Row]:
        return self.store.db.execute(
            "SELECT * FROM em_orders WHERE state = 'pending' ORDER BY n LIMIT ?", (limit,)
        ).fetchall()

    def settle(self, answers: list[dict[str, Any]]) -> None:
        """The hub's answers: created/duplicate → synced; refused → kept for staff."""
        with self.store.tx() as conn:
            for a in answers:
                state = "refused" if a.get("status") == "refused" else "synced"
                conn.execute(
                    "UPDATE em_orders SET state = ?, answer = ? WHERE id = ? AND state = 'pending'",
                    (state, json.dumps(a, ensure_ascii=False), a["id"]),
                )

    def counts(self) -> dict[str, int]:
        rows = self.store.db.execute("SELECT state, COUNT(*) FROM em_orders GROUP BY state")
        return {str(s): int(n) for s, n in rows}


def _sale(row: sqlite3.Row) -> Sale:
    body = json.loads(row["body"])
    return Sale(
        order_id=row["id"],
        product_id=row["product_id"],
        product_name=body.get("product_name", row["product_id"]),
        day=row["day"],
        slot=row["slot"],
        amount=int(body["amount"]),
        payment=body["payment"],
        payment_ref=body["payment_ref"],
        tickets=body["tickets"],
        sold_at=row["sold_at"],
        state=row["state"],
    )


def hub_body(row: sqlite3.Row) -> dict[str, Any]:
    """What the hub receives of a stored order (the JSON without the page's extras)."""
    body = json.loads(row["body"])
    body.pop("product_name", None)
    return body


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _b64s(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
