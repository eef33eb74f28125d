"""``tickethub bench reconcile``: a WeChat bill of N lines imported and matched.

Setup (not timed): a fresh database (a SQLite file in a temporary directory unless a URL
is given) upgraded to head; the hub's WeChat orders and refund records written with bulk
inserts (not through the order API: the bench measures reconciliation, not intake); a
bill in the real format (`hub.reconcile.bill_writer`) of N lines that agrees with the hub
except for ``k`` injected discrepancies of each rule.

Timed: `hub.reconcile.service.import_statement` on the bill's bytes — parse and check,
read the hub's day, match, store (``seconds`` wall time; ``cpu_seconds`` this process's
CPU, which says how much of the wall time a busy machine took away). Then the stored
discrepancies are compared with the injected ones by (kind, reference): ``ok`` only if
every injected one was found and none was invented; a second import of the same bytes
must add nothing.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import time as clock
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from hub.orders.records import ORD
from hub.reconcile.bill_writer import Txn, render
from hub.reconcile.service import DEFAULT_WINDOW, import_statement, wechat_day
from hub.reconcile.store import DISC
from hub.storage import migrate
from hub.storage.db import create_engine
from hub.storage.tables import PluginRecordRow

REC = PluginRecordRow.__table__
MERCHANT = "1900000109"
DAY = date(2026, 12, 6)
PRICE = 8000  # fen


class Scenario:
    """The hub's rows and the bill's transactions for one run, and what must be found."""

    def __init__(self, lines: int, seed: int = 15) -> None:
        self.rng = random.Random(seed)
        self.day = wechat_day(DAY, DEFAULT_WINDOW)
        self.orders: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.txns: list[Txn] = []
        self.expected: set[tuple[str, str]] = set()
        self.n = 0
        k = max(1, lines // 10_000)
        injected_lines = 10 * k  # lines `_inject` adds to the bill (counted there)
        normal = lines - injected_lines
        if normal < 10:
            raise ValueError(f"at least {injected_lines + 10} lines for k={k}")
        refunds = normal // 20
        self._normal(normal - refunds, refunds)
        self._inject(k)
        self.rng.shuffle(self.txns)

    def _no(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n:030d}"

    def _midday(self) -> datetime:
        return self.day.start + timedelta(minutes=10 + self.rng.randrange(24 * 60 - 20))

    def _order(self, otn: str, at: datetime | None, amount: int, state: str = "confirmed") -> str:
        oid = f"o{self.n:012d}{self.rng.randrange(10**6):06d}"
        self.orders.append(
            {
                "id": oid,
                "channel": "wechat",
                "partner_order_id": otn,
                "venue_id": "bench",
                "state": state,
                "travel_date": DAY + timedelta(days=1),
                "slot": "",
                "amount": amount,
                "currency": "CNY",
                "lines": [
                    {"product_id": "adult", "quantity": amount // PRICE, "unit_price": PRICE}
                ],
                "contact": {},
                "extra": {},
                "created_at": at or self._midday(),
                "updated_at": at or self._midday(),
                "hold_expires_at": None,
                "confirmed_at": at,
            }
        )
        return oid

    def _refund(self, otn: str, rno: str, amount: int, at: datetime, status: str) -> None:
        doc = {"out_trade_no": otn, "out_refund_no": rno, "amount": amount, "status": status}
        self.refunds.append(
            {
                "plugin": "wechat",
                "kind": "refund",
                "key": f"{otn}/{rno}",
                "doc": {**doc, "reason": "bench"},
                "expires_at": None,
                "updated_at": at,
            }
        )

    def _pay(self, at: datetime, amount: int, *, hub: bool = True, state: str = "SUCCESS") -> str:
        otn = self._no("TH")
        if hub:
            self._order(otn, at + timedelta(seconds=self.rng.randrange(3)), amount)
        self.txns.append(Txn(at, otn, amount, self._no("42"), state))
        return otn

    def _refund_line(self, otn: str, amount: int, at: datetime) -> str:
        rno = self._no("RF")
        self.txns.append(Txn(at, otn, amount, self._no("42"), "REFUND", rno, self._no("50")))
        return rno

    def _normal(self, payments: int, refunds: int) -> None:
        paid = [self._pay(self._midday(), PRICE * (1 + i % 3)) for i in range(payments)]
        for otn in paid[:refunds]:
            at = self._midday()
            rno = self._refund_line(otn, PRICE, at)
            self._refund(otn, rno, PRICE, at, "SUCCESS")

    def _expect(self, kind: str, ref: str) -> None:
        self.expected.add((kind, ref))

    def _inject(self, k: int) -> None:
        day = self.day
        for _ in range(k):
            otn = self._no("TH")  # hub_only: paid in the hub, WeChat never saw it
            self._order(otn, self._midday(), PRICE)
            self._expect("hub_only", f"pay:{otn}")
            otn = self._pay(self._midday(), PRICE, hub=False)  # 1 line: unknown to the hub
            self._expect("partner_only", f"pay:{otn}")
            otn = self._pay(self._midday(), PRICE, hub=False)  # 1 line: amount differs
            self._order(otn, self._midday(), PRICE + 100)
            self._expect("amount_mismatch", f"pay:{otn}")
            otn = self._no("TH")  # 1 line: WeChat took the money, the hub's hold expired
            self._order(otn, None, PRICE, state="expired")
            self.txns.append(Txn(self._midday(), otn, PRICE, self._no("42")))
            self._expect("status_mismatch", f"pay:{otn}")
            otn = self._pay(self._midday(), PRICE)  # 2 lines: the same payment twice
            self.txns.append(self.txns[-1])
            self._expect("duplicate", f"pay:{otn}#2")
            otn = self._no("TH")  # paid 23:59:50 in the hub, on tomorrow's bill
            self._order(otn, day.end - timedelta(seconds=10), PRICE)
            self._expect("crossed_midnight", f"pay:{otn}")
            otn = self._no("TH")  # 1 line: 23:59:58 at WeChat, 00:00:03 tomorrow in the hub
            self._order(otn, day.end + timedelta(seconds=3), PRICE)
            self.txns.append(Txn(day.end - timedelta(seconds=2), otn, PRICE, self._no("42")))
            self._expect("crossed_midnight", f"pay:{otn}")
            paid = self._pay(self._midday(), PRICE)  # 1 line + its refund, unknown to the hub
            rno = self._refund_line(paid, PRICE, self._midday())
            self._expect("partner_only", f"refund:{rno}")
            paid = self._pay(self._midday(), PRICE * 2)  # 1 line + a refund of another amount
            at = self._midday()
            rno = self._refund_line(paid, PRICE, at)
            self._refund(paid, rno, PRICE * 2, at, "SUCCESS")
            self._expect("amount_mismatch", f"refund:{rno}")
        # bill lines per round: partner_only 1, amount 1, status 1, duplicate 2,
        # crossed midnight 1, refund partner_only 2, refund amount 2 = 10


@contextlib.asynccontextmanager
async def _database(url: str | None) -> AsyncIterator[str]:
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="tickethub-bench-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


async def bench_reconcile(lines: int, database_url: str | None = None) -> dict[str, Any]:
    scenario = Scenario(lines)
    raw = render(scenario.txns, MERCHANT)
    async with _database(database_url) as url:
        await migrate.upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for table, rows in ((ORD, scenario.orders), (REC, scenario.refunds)):
                    for i in range(0, len(rows), 5000):
                        await conn.execute(insert(table), rows[i : i + 5000])
            def imported() -> Any:
                return import_statement(
                    engine,
                    channel="wechat",
                    day=DAY,
                    raw=raw,
                    merchant=MERCHANT,
                    by="bench",
                    now=datetime.now(UTC),
                )

            started, cpu = clock.perf_counter(), clock.process_time()
            first = await imported()
            seconds = clock.perf_counter() - started
            cpu = clock.process_time() - cpu
            again = await imported()  # the same statement again: must add nothing
            async with engine.connect() as conn:
                stored = {
                    (str(k), str(r)) for k, r in await conn.execute(select(DISC.c.kind, DISC.c.ref))
                }
        finally:
            await engine.dispose()
    missed = scenario.expected - stored
    invented = stored - scenario.expected
    return {
        "lines": len(scenario.txns),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),  # this process's CPU: wall time on a shared machine
        "discrepancies_found": len(stored),
        "discrepancies_injected": len(scenario.expected),
        "missed": sorted(f"{k} {r}" for k, r in missed),
        "invented": sorted(f"{k} {r}" for k, r in invented),
        "reimport_new": again.new,
        "ok": not missed
        and not invented
        and first.new == len(stored)
        and again.already
        and again.new == 0,
    }
