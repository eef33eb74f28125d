"""Match a WeChat bill against the hub's books for the same day and classify every
difference. Pure: the hub's side is handed in (`hubside` loads it), so every rule is
testable on plain values.

Each discrepancy names the rule that found it (``wechat.pay.amount`` …) and carries a
reference that is stable across imports of the same statement (``pay:<out_trade_no>``,
``refund:<out_refund_no>``, ``#2`` for a repeated line), which is what makes a
re-import add nothing.

Crossing midnight: WeChat stamps a payment when it settles, the hub when it confirms the
order; a payment at 23:59:58 can land on either side of midnight. Within ``window`` of
midnight a payment on one side's day and not the other's is ``crossed_midnight`` (it
clears on the next day's bill), not ``hub_only`` / a day mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.reconcile.wechat_bill import BillLine

KINDS = (
    "hub_only",
    "partner_only",
    "amount_mismatch",
    "status_mismatch",
    "duplicate",
    "crossed_midnight",
)


@dataclass(frozen=True, slots=True)
class HubPayment:
    order_id: str
    out_trade_no: str
    amount: int
    state: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class HubRefund:
    out_trade_no: str
    out_refund_no: str
    amount: int
    status: str  # REQUESTED until WeChat's notice, then SUCCESS / CLOSED / ABNORMAL
    at: datetime  # the record's last update


@dataclass(frozen=True, slots=True)
class Found:
    kind: str
    rule: str
    ref: str
    detail: str
    order_id: str | None = None
    hub_amount: int | None = None
    partner_amount: int | None = None


@dataclass(frozen=True, slots=True)
class Day:
    start: datetime
    end: datetime
    window: timedelta

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def near_midnight(self, at: datetime) -> bool:
        """Within the window of either midnight that bounds the day."""
        return any(abs(at - edge) <= self.window for edge in (self.start, self.end))


def match(
    lines: list[BillLine],
    payments: dict[str, HubPayment],
    refunds: dict[str, HubRefund],
    day: Day,
) -> list[Found]:
    """`payments` by out_trade_no: the hub's WeChat orders paid on the day (window
    included) and every order the bill names; `refunds` by out_refund_no likewise."""
    found: list[Found] = []
    # What the hub gave back per payment (refunds WeChat did not refuse): a payment that
    # came after its order was gone and that the hub refunded in full is settled, not a
    # state mismatch (the refund line is matched on its own).
    given_back: dict[str, int] = {}
    for r in refunds.values():
        if r.status not in ("CLOSED", "ABNORMAL"):
            given_back[r.out_trade_no] = given_back.get(r.out_trade_no, 0) + r.amount
    seen_pay: dict[str, int] = {}
    seen_refund: dict[str, int] = {}
    for line in lines:
        if line.is_refund:
            n = seen_refund[line.out_refund_no] = seen_refund.get(line.out_refund_no, 0) + 1
            if n > 1:
                found.append(_duplicate(line, f"refund:{line.out_refund_no}#{n}", n))
                continue
            found.extend(_refund_line(line, refunds.get(line.out_refund_no)))
        else:
            n = seen_pay[line.out_trade_no] = seen_pay.get(line.out_trade_no, 0) + 1
            if n > 1:
                found.append(_duplicate(line, f"pay:{line.out_trade_no}#{n}", n))
                continue
            found.extend(_pay_line(line, payments.get(line.out_trade_no), day, given_back))
    for p in payments.values():
        if p.out_trade_no in seen_pay or p.confirmed_at is None or p.amount <= 0:
            continue
        if not day.contains(p.confirmed_at):
            continue  # on the window's other side: another day's bill
        ref = f"pay:{p.out_trade_no}"
        if day.near_midnight(p.confirmed_at):
            found.append(
                Found(
                    "crossed_midnight",
                    "wechat.pay.clears_next_day",
                    ref,
                    f"paid {p.confirmed_at.isoformat()} in the hub, not on this bill: "
                    "expected on the next day's",
                    p.order_id,
                    p.amount,
                )
            )
        else:
            found.append(
                Found(
                    "hub_only",
                    "wechat.pay.not_at_wechat",
                    ref,
                    f"paid {p.confirmed_at.isoformat()} in the hub, not on WeChat's bill",
                    p.order_id,
                    p.amount,
                )
            )
    for r in refunds.values():
        if r.out_refund_no in seen_refund or r.amount <= 0 or not day.contains(r.at):
            continue
        clears = day.near_midnight(r.at)
        found.append(
            Found(
                "crossed_midnight" if clears else "hub_only",
                "wechat.refund.clears_next_day" if clears else "wechat.refund.not_at_wechat",
                f"refund:{r.out_refund_no}",
                f"refund of {r.out_trade_no} ({r.status}) in the hub, not on WeChat's bill",
                None,
                r.amount,
            )
        )
    return found


def _duplicate(line: BillLine, ref: str, n: int) -> Found:
    return Found(
        "duplicate",
        "wechat.line.repeated",
        ref,
        f"line {line.line_no} repeats {ref.split('#')[0]} (occurrence {n})",
        None,
        None,
        line.amount,
    )


def _pay_line(
    line: BillLine, hub: HubPayment | None, day: Day, given_back: dict[str, int]
) -> list[Found]:
    ref = f"pay:{line.out_trade_no}"
    if hub is None:
        return [
            Found(
                "partner_only",
                "wechat.pay.not_in_hub",
                ref,
                f"line {line.line_no}: WeChat {line.state} {line.transaction_id}, no such order",
                partner_amount=line.amount,
            )
        ]
    if hub.confirmed_at is None:
        if given_back.get(line.out_trade_no, 0) >= line.amount:
            return []  # a late payment the hub refunded in full: settled
        return [
            Found(
                "status_mismatch",
                "wechat.pay.hub_unpaid",
                ref,
                f"line {line.line_no}: WeChat {line.state}, the hub's order is {hub.state}",
                hub.order_id,
                hub.amount,
                line.amount,
            )
        ]
    if line.state == "REVOKED":
        return [
            Found(
                "status_mismatch",
                "wechat.pay.revoked_at_wechat",
                ref,
                f"line {line.line_no}: WeChat reversed the payment, the hub's order is paid",
                hub.order_id,
                hub.amount,
                line.amount,
            )
        ]
    if hub.amount != line.amount:
        return [
            Found(
                "amount_mismatch",
                "wechat.pay.amount",
                ref,
                f"line {line.line_no}: WeChat {line.amount} fen, the hub {hub.amount} fen",
                hub.order_id,
                hub.amount,
                line.amount,
            )
        ]
    if not day.contains(hub.confirmed_at):
        near = day.near_midnight(hub.confirmed_at)
        return [
            Found(
                "crossed_midnight" if near else "status_mismatch",
                "wechat.pay.crossed_midnight" if near else "wechat.pay.other_day",
                ref,
                f"line {line.line_no}: paid {line.at.isoformat()} at WeChat, "
                f"{hub.confirmed_at.isoformat()} in the hub",
                hub.order_id,
                hub.amount,
                line.amount,
            )
        ]
    return []


def _refund_line(line: BillLine, hub: HubRefund | None) -> list[Found]:
    ref = f"refund:{line.out_refund_no}"
    if hub is None or hub.out_trade_no != line.out_trade_no:
        return [
            Found(
                "partner_only",
                "wechat.refund.not_in_hub",
                ref,
                f"line {line.line_no}: WeChat refunded {line.out_trade_no}, the hub knows no "
                "such refund",
                partner_amount=line.amount,
            )
        ]
    if hub.amount != line.amount:
        return [
            Found(
                "amount_mismatch",
                "wechat.refund.amount",
                ref,
                f"line {line.line_no}: WeChat refunded {line.amount} fen, the hub {hub.amount}",
                None,
                hub.amount,
                line.amount,
            )
        ]
    if line.refund_state and hub.status != line.refund_state:
        return [
            Found(
                "status_mismatch",
                "wechat.refund.status",
                ref,
                f"line {line.line_no}: WeChat says {line.refund_state}, the hub {hub.status}",
                None,
                hub.amount,
                line.amount,
            )
        ]
    return []
