"""What every demo step shares: the HTTP session, the hub's address and tokens, the dates,
and the tally the summary is built from.

A step talks to the hub ONLY over HTTP, like a real partner would; the tally records what
the answers said (units sold per product, denials per code, replays), and `expect`
records what the scenario promised, so the demo can fail when the hub misbehaves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import aiohttp

from hub.testing.processes import HubAdmin


@dataclass(frozen=True, slots=True)
class Expectation:
    """One promise of the scenario and whether the hub kept it."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class Section:
    """A step's part of the summary: a few facts and the expectations it checked."""

    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    def fact(self, label: str, value: object) -> None:
        self.facts.append((label, str(value)))

    def expect(self, what: str, ok: bool, detail: str = "") -> bool:
        self.expectations.append(Expectation(what, bool(ok), detail))
        return bool(ok)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, parsed."""

    status: int
    body: Any
    replay: bool

    @property
    def code(self) -> str:
        """``ACCEPTED`` for a 2xx, else the error code the hub gave."""
        if 200 <= self.status < 300:
            return "ACCEPTED"
        return str(self.body.get("code")) if isinstance(self.body, dict) else f"HTTP_{self.status}"

    @property
    def order(self) -> dict[str, Any]:
        return dict(self.body.get("order", {})) if isinstance(self.body, dict) else {}


class Step(Protocol):
    """One scenario step (box office, WeChat, an OTA, an agency, the gates …)."""

    title: str

    async def run(self, ctx: DemoContext) -> Section:
        """Drive the hub through its HTTP API and return this step's summary section."""
        ...


@dataclass
class DemoContext:
    http: aiohttp.ClientSession
    base_url: str
    admin_token: str
    boxoffice_token: str
    today: date  # venue-local
    #: units sold per product, net of cancellations and refunds
    sold: Counter[str] = field(default_factory=Counter)
    #: denials per code, over every step
    denied: Counter[str] = field(default_factory=Counter)
    #: replays the hub answered with Idempotent-Replay: true
    replays: int = 0
    #: order id → its lines, to take units back off `sold` on cancel/refund
    lines_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: pools the seed created, for the capacity table and the audit
    pools: list[str] = field(default_factory=list)

    @property
    def admin(self) -> HubAdmin:
        return HubAdmin(self.http, self.base_url, self.admin_token)

    @property
    def busy_day(self) -> date:
        """Tomorrow: the day the burst sells out a slot."""
        return self.today + timedelta(days=1)

    @property
    def week(self) -> list[date]:
        return [self.busy_day + timedelta(days=i) for i in range(7)]

    async def boxoffice(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> Answer:
        """Call the box-office API (``/api/boxoffice`` + path) as the staff terminal."""
        headers = {"Authorization": f"Bearer {self.boxoffice_token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        url = f"{self.base_url}/api/boxoffice{path}"
        async with self.http.request(method, url, json=body, headers=headers) as resp:
            try:
                parsed: Any = await resp.json(content_type=None)
            except ValueError:
                parsed = await resp.text()
            return Answer(resp.status, parsed, resp.headers.get("Idempotent-Replay") == "true")

    def record_order(self, answer: Answer, lines: Sequence[Mapping[str, Any]]) -> None:
        """Tally a new-order answer: units per product on a sale, the code on a denial."""
        if answer.replay:
            self.replays += 1
            return
        if answer.code == "ACCEPTED":
            order_id = str(answer.order.get("id", ""))
            self.lines_of[order_id] = [dict(line) for line in lines]
            for line in lines:
                self.sold[str(line["product_id"])] += int(line["quantity"])
        else:
            self.denied[answer.code] += 1

    def record_release(self, order_id: str) -> None:
        """An order was cancelled or refunded: its units are no longer sold."""
        for line in self.lines_of.pop(order_id, []):
            self.sold[str(line["product_id"])] -= int(line["quantity"])
