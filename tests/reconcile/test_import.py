"""Importing a WeChat bill against the hub's own rows, on SQLite and PostgreSQL: found,
stored once, never half-imported, moved by people with notes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.orders.records import ORD
from hub.reconcile import store
from hub.reconcile.bill_writer import Txn, render
from hub.reconcile.service import import_statement
from hub.reconcile.store import DISC, STMT
from hub.reconcile.wechat_bill import CHINA, BillError
from hub.storage import migrate
from hub.storage.db import create_engine
from hub.storage.tables import PluginRecordRow

MCH = "1900000109"
DAY = date(2026, 12, 6)
NOON = datetime(2026, 12, 6, 12, 0, tzinfo=CHINA)
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def order(otn: str, amount: int, confirmed: datetime | None) -> dict[str, Any]:
    at = confirmed or NOON
    return {
        "id": "o-" + otn,
        "channel": "wechat",
        "partner_order_id": otn,
        "venue_id": "v1",
        "state": "confirmed" if confirmed else "expired",
        "travel_date": DAY,
        "slot": "",
        "amount": amount,
        "lines": [{"product_id": "adult", "quantity": 1, "unit_price": amount}],
        "contact": {},
        "extra": {},
        "created_at": at,
        "updated_at": at,
        "confirmed_at": confirmed,
    }


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(db_url)
    eng = create_engine(db_url)
    async with eng.begin() as conn:
        await conn.execute(
            insert(ORD),
            [
                order("TH-OK", 8000, NOON),
                order("TH-AMOUNT", 8000, NOON),
                order("TH-HUBONLY", 5000, NOON - timedelta(hours=2)),
                order("TH-EXPIRED", 8000, None),
            ],
        )
        await conn.execute(
            insert(PluginRecordRow.__table__),
            [
                {
                    "plugin": "wechat",
                    "kind": "refund",
                    "key": "TH-OK/RF-1",
                    "doc": {
                        "out_trade_no": "TH-OK",
                        "out_refund_no": "RF-1",
                        "amount": 3000,
                        "status": "SUCCESS",
                    },
                    "updated_at": NOON + timedelta(hours=1),
                }
            ],
        )
    yield eng
    await eng.dispose()


BILL = [
    Txn(NOON, "TH-OK", 8000, "4201"),
    Txn(NOON, "TH-AMOUNT", 8800, "4202"),
    Txn(NOON, "TH-EXPIRED", 8000, "4203"),
    Txn(NOON, "TH-STRANGER", 2000, "4204"),
    Txn(NOON + timedelta(hours=1), "TH-OK", 3000, "4201", "REFUND", "RF-1", "5001"),
]


async def _import(engine: AsyncEngine, raw: bytes) -> store.Imported:
    return await import_statement(
        engine, channel="wechat", day=DAY, raw=raw, merchant=MCH, by="test", now=NOW
    )


async def _stored(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        return sorted((k, r) for k, r in await conn.execute(select(DISC.c.kind, DISC.c.ref)))


async def test_import_finds_stores_once_and_a_correction_adds_only_news(
    engine: AsyncEngine,
) -> None:
    first = await _import(engine, render(BILL, MCH))
    assert (first.already, first.lines, first.found, first.new) == (False, 5, 4, 4)
    expected = [
        ("amount_mismatch", "pay:TH-AMOUNT"),
        ("hub_only", "pay:TH-HUBONLY"),
        ("partner_only", "pay:TH-STRANGER"),
        ("status_mismatch", "pay:TH-EXPIRED"),
    ]
    assert await _stored(engine) == expected
    again = await _import(engine, b"\xef\xbb\xbf" + render(BILL, MCH))  # same text, a BOM
    assert (again.already, again.new, again.statement_id) == (True, 0, first.statement_id)
    assert await _stored(engine) == expected

    [disc] = [d for d in await _list(engine) if d["ref"] == "pay:TH-AMOUNT"]
    assert (disc["hub_amount"], disc["partner_amount"]) == ("80.00", "88.00")
    acked = await store.move(
        engine, disc["id"], "acknowledged", by="li", note="asked WeChat", now=NOW
    )
    assert acked["state"] == "acknowledged" and acked["acknowledged"]["by"] == "li"

    corrected = [*BILL, Txn(NOON, "TH-STRANGER", 2000, "4204")]  # a repeated line
    third = await _import(engine, render(corrected, MCH))
    assert (third.already, third.found, third.new) == (False, 5, 1)
    assert ("duplicate", "pay:TH-STRANGER#2") in await _stored(engine)
    [still] = [d for d in await _list(engine) if d["ref"] == "pay:TH-AMOUNT"]
    assert still["state"] == "acknowledged" and still["acknowledged"]["note"] == "asked WeChat"


async def _list(engine: AsyncEngine, **kw: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return await store.listing(conn, **kw)


async def test_a_refused_statement_leaves_nothing(engine: AsyncEngine) -> None:
    good = render(BILL, MCH).decode("utf-8").split("\r\n")
    good[3] = good[3].replace("`1900000109", "`1900000999")
    with pytest.raises(BillError, match="line 4: 商户号"):
        await _import(engine, "\r\n".join(good).encode())
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(STMT))).scalar() == 0
        assert (await conn.execute(select(func.count()).select_from(DISC))).scalar() == 0


async def test_moves_need_a_person_a_note_and_the_right_state(engine: AsyncEngine) -> None:
    await _import(engine, render(BILL, MCH))
    disc = (await _list(engine, kind="partner_only"))[0]
    with pytest.raises(store.BadMove, match="required"):
        await store.move(engine, disc["id"], "resolved", by="li", note=" ", now=NOW)
    done = await store.move(
        engine, disc["id"], "resolved", by="li", note="refunded by hand", now=NOW
    )
    assert done["resolved"] == {"by": "li", "at": NOW.isoformat(), "note": "refunded by hand"}
    with pytest.raises(store.BadMove, match="is resolved; it cannot become acknowledged"):
        await store.move(engine, disc["id"], "acknowledged", by="wang", note="x", now=NOW)
    with pytest.raises(store.NotFound):
        await store.move(engine, 999_999, "resolved", by="li", note="x", now=NOW)
    assert [d["ref"] for d in await _list(engine, state="resolved")] == ["pay:TH-STRANGER"]


async def test_the_same_statement_imported_twice_at_once_counts_once(engine: AsyncEngine) -> None:
    raw = render(BILL, MCH)
    results = await asyncio.gather(_import(engine, raw), _import(engine, raw))
    assert sorted(r.already for r in results) == [False, True]
    assert sum(r.new for r in results) == 4
    assert len({r.statement_id for r in results}) == 1
    assert len(await _stored(engine)) == 4
