"""Fliggy callbacks to the TOP gateway: which hub events queue which call, and its params.

The event hooks run inside the transaction that changed the order and only RETURN
`PartnerCall`s (the hub writes them to the outbox in that transaction); the parameters
are computed when the call is DELIVERED, from the order as it is then.

``verify`` → ``taobao.travel.ticket.order.verify``
    one per accepted redemption of a Fliggy ticket (dedupe on the redemption id, so the
    bridge's re-uploads queue it once). ``write_off_type`` follows the spec's
    ``[callbacks.verify].cumulative``: ``0`` ("this time") sends this redemption's own
    ticket and quantity — each call is a delta, so TOP must apply it once: it carries
    ``serial_num`` (the spec's ``idempotency_field``), the same on every retry; ``1``
    (cumulative) sends every used voucher of the order with its running total at
    delivery, so a late or repeated call is harmless by construction.
``refund`` → ``taobao.travel.ticket.order.refund``
    ``refund_status = 1`` after every refund of a Fliggy order (Fliggy's own refund
    call, a cancel of a paid order, or staff at the box office), ``2`` when Fliggy's
    refund request is refused (queued by the channel, see `FliggyChannel.handle`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.sdk import Order, PartnerCall, Redemption, Ticket
from hub.sdk.channels import ChannelSpec

CHANNEL = "fliggy"
VERIFY = "verify"
REFUND = "refund"
REFUND_OK = 1
REFUND_FAILED = 2
BEIJING = ZoneInfo("Asia/Shanghai")
TOP_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass
class HookState:
    """Whether the running channel can deliver (set in its ``setup``): hooks get no
    settings, and a hub without Fliggy's TOP credentials must not queue dead calls."""

    enabled: bool = False


HOOKS = HookState()


def serial(dedupe_key: str) -> str:
    """A short, stable id of one logical call (the same on every retry)."""
    return hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]


def verify_call(order: Order, ticket: Ticket, redemption: Redemption) -> PartnerCall | None:
    if order.channel != CHANNEL or not HOOKS.enabled or not redemption.accepted:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=VERIFY,
        dedupe_key=f"fliggy:verify:{order.id}:{redemption.id}"[:200],
        payload={
            "order_id": order.id,
            "ticket_id": ticket.id,
            "units": ticket.units,
            "at": redemption.at.isoformat(),
        },
        order_id=order.id,
    )


def refund_call(order: Order, status: int, tag: str) -> PartnerCall | None:
    """``tag`` tells refunds of one order apart (the tickets refunded, or the refused
    request's id), so each result is queued once however often its event repeats."""
    if order.channel != CHANNEL or not HOOKS.enabled:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=REFUND,
        dedupe_key=f"fliggy:refund:{order.id}:{status}:{tag}"[:200],
        payload={"order_id": order.id, "status": status},
        order_id=order.id,
    )


def tickets_tag(tickets: list[Ticket]) -> str:
    return hashlib.sha256(",".join(sorted(t.id for t in tickets)).encode()).hexdigest()[:24]


def _code(ticket: Ticket) -> str:
    return ticket.credential or ticket.id


def _used_units(ticket: Ticket) -> int:
    return ticket.units if ticket.entries_used > 0 else 0


def verify_params(
    spec: ChannelSpec, order: Order, call: PartnerCall, dedupe_key: str
) -> dict[str, Any]:
    """The business parameters of one verify call (see the module doc)."""
    cb = spec.callbacks[VERIFY]
    at = datetime.fromisoformat(str(call.payload["at"])).astimezone(BEIJING).strftime(TOP_TIME)
    if cb.cumulative:
        used = [t for t in order.tickets if _used_units(t) > 0]
        infos = [
            {"confirm_code": _code(t), "used_quantity": _used_units(t), "used_date": at}
            for t in sorted(used, key=lambda t: (t.visitor_index or 0, t.id))
        ]
    else:
        ticket = next((t for t in order.tickets if t.id == call.payload["ticket_id"]), None)
        code = _code(ticket) if ticket is not None else str(call.payload["ticket_id"])
        units = int(call.payload.get("units") or 1)
        infos = [{"confirm_code": code, "used_quantity": units, "used_date": at}]
    params: dict[str, Any] = {
        "order_id": order.partner_order_id,
        "write_off_type": 1 if cb.cumulative else 0,
        "voucher_infos": infos,
    }
    if cb.idempotency_field:
        params[cb.idempotency_field] = serial(dedupe_key)
    return params


def refund_params(
    spec: ChannelSpec, order: Order, call: PartnerCall, dedupe_key: str
) -> dict[str, Any]:
    cb = spec.callbacks[REFUND]
    params: dict[str, Any] = {
        "order_id": order.partner_order_id,
        "refund_status": int(call.payload["status"]),
    }
    if cb.idempotency_field:
        params[cb.idempotency_field] = serial(dedupe_key)
    return params
