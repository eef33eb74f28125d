"""The box-office step: a morning rush at the ticket windows, through the box-office API.

Everything a busy ticket office throws at the hub, concurrently where it would be:

* a burst on the small sunrise slot — more orders than places, from several windows at
  once — that must sell exactly out (quantities 1 and 2, with more one-unit orders than
  places, so "exactly" is deterministic: a safe inventory refuses a one-unit order only
  when nothing is left);
* ordinary sales meanwhile: adults, children and seniors with their ID numbers, a
  real-name ticket, an entry + cable-car combo, a tour group with its roster;
* a flaky network: the same orders sent again with the same Idempotency-Key (the first
  answer comes back, marked as a replay) and one key reused for a different order
  (refused as a conflict);
* the mistakes people make: a mistyped ID number, a second real-name ticket for the same
  ID on the same day, a child ticket for an adult, a senior ticket for a forty-year-old,
  a "group" of five, a ticket for yesterday;
* a held order cancelled and a paid order refunded, which give their places back.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sandbox.demo import ids
from sandbox.demo.context import Answer, DemoContext, Section
from sandbox.demo.seed import MAIN, SLOTS, SUNRISE, SUNRISE_CAPACITY

BURST_ORDERS = 30  # for SUNRISE_CAPACITY places: 15 one-unit + 15 two-unit orders
REPLAYS = 5


def _order(
    day: date,
    slot: str,
    product_id: str,
    quantity: int,
    visitors: list[dict[str, str]] | None = None,
    *,
    confirm: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "travel_date": day.isoformat(),
        "slot": slot,
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "contact": {"name": "窗口售票", "phone": ids.phone(quantity)},
        "confirm": confirm,
    }
    if visitors:
        body["visitors"] = visitors
    return body


class BoxOfficeStep:
    title = "Box office: morning rush"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        day = ctx.busy_day
        seq = iter(range(1, 1000))

        async def send(key: str, body: dict[str, Any]) -> Answer:
            answer = await ctx.boxoffice("POST", "/orders", body, key=key)
            ctx.record_order(answer, body["lines"])
            return answer

        # 1. The sunrise burst and, at the same time, ordinary sales on other slots.
        burst = {
            f"bo-sunrise-{i}": _order(day, SUNRISE, "adult", 1 + i % 2) for i in range(BURST_ORDERS)
        }
        regular_slot = SLOTS[0][0]
        group = [ids.visitor(next(seq), 30 + i, day) for i in range(12)]
        realname_visitor = ids.visitor(next(seq), 28, day)
        ordinary: dict[str, tuple[str, dict[str, Any]]] = {
            "bo-adult-1": ("3 adults, 08:00", _order(day, regular_slot, "adult", 3)),
            "bo-adult-2": (
                "2 adults, in three days",
                _order(day + timedelta(days=2), SLOTS[1][0], "adult", 2),
            ),
            "bo-child-1": (
                "2 children (8 and 12) with their IDs",
                _order(
                    day,
                    regular_slot,
                    "child",
                    2,
                    [ids.visitor(next(seq), 8, day), ids.visitor(next(seq), 12, day)],
                ),
            ),
            "bo-senior-1": (
                "1 senior (66)",
                _order(day, regular_slot, "senior", 1, [ids.visitor(next(seq), 66, day)]),
            ),
            "bo-realname-1": (
                "1 real-name ticket",
                _order(day, SLOTS[2][0], "realname", 1, [realname_visitor]),
            ),
            "bo-combo-1": ("2 entry + cable car combos", _order(day, SLOTS[1][0], "combo", 2)),
            "bo-combo-2": ("1 combo (refunded later)", _order(day, SLOTS[3][0], "combo", 1)),
            "bo-group-1": (
                f"tour group of {len(group)} with roster",
                _order(day, SLOTS[1][0], "group", len(group), group),
            ),
        }
        bodies = {**burst, **{k: body for k, (_, body) in ordinary.items()}}
        answers = dict(
            zip(
                bodies,
                await asyncio.gather(*(send(k, b) for k, b in bodies.items())),
                strict=True,
            )
        )

        sunrise_units = sum(
            burst[k]["lines"][0]["quantity"] for k in burst if answers[k].code == "ACCEPTED"
        )
        refusals = Counter(answers[k].code for k in burst if answers[k].code != "ACCEPTED")
        section.fact("sunrise burst", f"{BURST_ORDERS} orders for {SUNRISE_CAPACITY} places")
        section.expect(
            f"sunrise slot sells exactly out ({SUNRISE_CAPACITY} units)",
            sunrise_units == SUNRISE_CAPACITY,
            f"{sunrise_units} sold",
        )
        (cell,) = [
            c for c in await ctx.admin.inventory(MAIN, day.isoformat()) if c["slot"] == SUNRISE
        ]
        section.expect(
            "the hub's own counters agree: sunrise sold out",
            cell["sold"] == SUNRISE_CAPACITY and cell["available"] == 0,
            f"sold {cell['sold']}, available {cell['available']}",
        )
        section.expect(
            "every refused burst order is SOLD_OUT (409)",
            set(refusals) == {"SOLD_OUT"}
            and all(answers[k].status == 409 for k in burst if answers[k].code != "ACCEPTED"),
            ", ".join(f"{c}×{n}" for c, n in sorted(refusals.items())),
        )
        for key, (what, _) in ordinary.items():
            section.expect(f"sold: {what}", answers[key].code == "ACCEPTED", answers[key].code)

        # 2. Replays: the same key and body again → the first answer, marked as a replay.
        accepted_keys = [k for k in burst if answers[k].code == "ACCEPTED"][:REPLAYS]
        sold_out_keys = [k for k in burst if answers[k].code == "SOLD_OUT"][:1]
        replayed = await asyncio.gather(*(send(k, burst[k]) for k in accepted_keys + sold_out_keys))
        same = bool(accepted_keys) and all(
            r.replay
            and r.status == answers[k].status
            and r.order.get("id") == answers[k].order.get("id")
            for k, r in zip(accepted_keys + sold_out_keys, replayed, strict=True)
        )
        section.fact("replays sent", len(replayed))
        section.expect("replays return the first answer, marked Idempotent-Replay", same)
        conflict_key = accepted_keys[0] if accepted_keys else "bo-sunrise-0"
        changed = _order(day, SUNRISE, "adult", 3)
        conflict = await send(conflict_key, changed)
        section.expect(
            "same key, different order → 409 IDEMPOTENCY_CONFLICT",
            conflict.status == 409 and conflict.code == "IDEMPOTENCY_CONFLICT",
            f"{conflict.status} {conflict.code}",
        )

        # 3. Mistakes, each refused with its own reason code.
        typo = ids.visitor(next(seq), 35, day)
        typo["id_number"] = ids.with_wrong_check_char(typo["id_number"])
        yesterday = ctx.today - timedelta(days=1)
        # (what, expected code, expected status, order): a rule the request breaks by
        # itself is 422; the per-ID limit is 409, a conflict with an earlier order.
        mistakes: list[tuple[str, str, int, dict[str, Any]]] = [
            (
                "mistyped ID number",
                "INVALID_ID_NUMBER",
                422,
                _order(day, SLOTS[2][0], "realname", 1, [typo]),
            ),
            (
                "second real-name ticket, same ID, same day",
                "ID_DAILY_LIMIT",
                409,
                _order(day, SLOTS[3][0], "realname", 1, [realname_visitor]),
            ),
            (
                "child ticket for a 35-year-old",
                "AGE_NOT_ELIGIBLE",
                422,
                _order(day, regular_slot, "child", 1, [ids.visitor(next(seq), 35, day)]),
            ),
            (
                "senior ticket for a 40-year-old",
                "AGE_NOT_ELIGIBLE",
                422,
                _order(day, regular_slot, "senior", 1, [ids.visitor(next(seq), 40, day)]),
            ),
            (
                "group of five",
                "GROUP_TOO_SMALL",
                422,
                _order(
                    day,
                    SLOTS[1][0],
                    "group",
                    5,
                    [ids.visitor(next(seq), 45, day) for _ in range(5)],
                ),
            ),
            (
                "ticket for yesterday",
                "BOOKING_CLOSED",
                422,
                _order(yesterday, regular_slot, "adult", 1),
            ),
        ]
        refused = await asyncio.gather(
            *(send(f"bo-mistake-{i}", m[3]) for i, m in enumerate(mistakes))
        )
        for (what, code, status, _), answer in zip(mistakes, refused, strict=True):
            section.expect(
                f"refused: {what} → {status} {code}",
                answer.code == code and answer.status == status,
                f"{answer.status} {answer.code}",
            )

        # 4. A held order cancelled, a paid order refunded: both give their places back.
        held = await send("bo-held-1", _order(day, SLOTS[3][0], "adult", 2, confirm=False))
        cancelled = await self._move(ctx, held, "cancel")
        section.expect("held order cancelled", cancelled == "cancelled", cancelled)
        paid = answers["bo-combo-2"]
        refunded = await self._move(ctx, paid, "refund")
        section.expect("paid combo refunded", refunded == "refunded", refunded)
        return section

    @staticmethod
    async def _move(ctx: DemoContext, answer: Answer, action: str) -> str:
        """Cancel or refund an order; returns its new state (or the error code)."""
        order_id = answer.order.get("id")
        if not order_id:
            return f"no order ({answer.code})"
        moved = await ctx.boxoffice("POST", f"/orders/{order_id}/{action}", {})
        if moved.code != "ACCEPTED":
            return moved.code
        ctx.record_release(str(order_id))
        return str(moved.order.get("state", "?"))
