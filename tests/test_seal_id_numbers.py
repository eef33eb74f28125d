"""ID numbers at rest: sealed (AES-GCM, the configured key), found by keyed hash, and the
rows an older database holds in clear are sealed by migration 0002 — on SQLite and on
PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.orders import claims, records
from hub.redemptions import feed
from hub.storage import migrate
from hub.storage.db import create_admin_engine
from hub.storage.sealed import IdNumbers, SealOpenError
from hub.storage.tables import FaceRow, OrderRow
from tests.support import hub_client, hub_of, id_number, order, seed

pytestmark = pytest.mark.timeout(120)

# an ID number whose check character is X (lookups must not care how it is written)
PERSON = next(n for n in (id_number("19900307", s) for s in range(1000)) if n.endswith("X"))
OTHER = id_number("19850101", 42)
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def _values(row: Any) -> list[Any]:
    return list(row._mapping.values())


def _holds_clear(rows: list[Any], *numbers: str) -> bool:
    for row in rows:
        for value in _values(row):
            if isinstance(value, (bytes, memoryview)):
                value = bytes(value).decode("latin-1")
            elif isinstance(value, (dict, list)):  # JSON columns (PostgreSQL reads them so)
                value = json.dumps(value, ensure_ascii=False)
            if isinstance(value, str) and any(n.lower() in value.lower() for n in numbers):
                return True
    return False


# -- the running hub -----------------------------------------------------------------------


async def test_the_hub_stores_id_numbers_only_sealed(aiohttp_client: Any, db_url: str) -> None:
    key = os.urandom(32)
    client = await hub_client(
        aiohttp_client,
        db_url,
        id_number_key=base64.b64encode(key).decode(),
        id_hash_secret="hash-secret-1",
        bridge_tokens={"v1": "bridge-v1"},
    )
    await seed(client)
    people = [{"name": "张三", "id_number": PERSON}, {"name": "李四", "id_number": OTHER}]
    status, body = await order(
        client, "rn", product="realname", quantity=2, visitors=people, confirm=True
    )
    assert status == 201, body
    hub = hub_of(client)
    oid = body["order"]["id"]
    async with hub.engine.connect() as conn:
        vis = (await conn.execute(sa.select(records.VIS))).all()
        tix = (await conn.execute(sa.select(records.TIX))).all()
    assert len(vis) == 2 and len(tix) == 2
    assert not _holds_clear(vis + tix, PERSON, OTHER)
    # sealed with the configured key (not one derived from the hash secret), per row
    mine = IdNumbers(key, "hash-secret-1")
    derived = IdNumbers.from_settings("", "hash-secret-1")
    by_idx = {v.idx: v for v in vis}
    assert records.visitor_id_number(by_idx[0], mine) == PERSON
    with pytest.raises(SealOpenError):
        records.visitor_id_number(by_idx[0], derived)
    assert by_idx[0].id_hash == claims.id_key("hash-secret-1", PERSON)  # the counters' key
    # read back in clear
    loaded = await hub.orders.get(oid)
    assert loaded is not None
    assert [v.id_number for v in loaded.visitors] == [PERSON, OTHER]
    assert sorted(t.holder_id_number or "" for t in loaded.tickets) == sorted([PERSON, OTHER])
    # found by keyed hash, however the X is written
    assert await hub.orders.with_id_number(PERSON.lower()) == [oid]
    assert await hub.orders.with_id_number(OTHER) == [oid]
    assert await hub.orders.with_id_number(id_number("20000101", 7)) == []
    # the venue's bridge still gets the holder's number in clear: it matches ID cards
    page = await feed.changes_since(hub.engine, "v1", "", 100, hub.orders.ids)
    assert sorted(t["holder_id_number"] for t in page["tickets"]) == sorted([PERSON, OTHER])
    resp = await client.get(
        "/api/bridge/venues/v1/changes", headers={"Authorization": "Bearer bridge-v1"}
    )
    assert resp.status == 200, await resp.text()
    sent = {t["holder_id_number"] for t in (await resp.json())["tickets"]}
    assert sent == {PERSON, OTHER}


async def test_no_table_holds_an_id_number_in_clear(aiohttp_client: Any, db_url: str) -> None:
    """Every table, not only the order's rows: the stored first answer of a keyed order
    (idempotency) carries the visitors, so their ID numbers are sealed there too, and a
    replay of the order still answers them."""
    client = await hub_client(aiohttp_client, db_url, id_hash_secret="hash-secret-2")
    await seed(client)
    people = [{"name": "张三", "id_number": PERSON}, {"name": "李四", "id_number": OTHER}]
    first = await order(client, "all", product="realname", quantity=2, visitors=people)
    assert first[0] == 201, first[1]
    hub = hub_of(client)
    async with hub.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        clear = [
            name
            for name in names
            if _holds_clear(
                (await conn.execute(sa.text(f'SELECT * FROM "{name}"'))).all(), PERSON, OTHER
            )
        ]
    assert "idempotency" in names and clear == []
    again = await order(client, "all", product="realname", quantity=2, visitors=people)
    assert again == first


async def test_replacing_a_visitor_reseals_the_row(aiohttp_client: Any, sqlite_url: str) -> None:
    from tests.orders.test_replace_visitors import group_setup, person

    client = await hub_client(aiohttp_client, sqlite_url)
    placed = await group_setup(client)
    assert placed.status == 201, placed.body
    orders = hub_of(client).orders
    oid = placed.body["order"]["id"]
    before = person(2).id_number
    out = await orders.replace_visitors(oid, {1: person(9)})
    assert out.status == 200, out.body
    new = person(9).id_number
    assert new and before
    async with hub_of(client).engine.connect() as conn:
        vis = (await conn.execute(sa.select(records.VIS).order_by(records.VIS.c.idx))).all()
        tix = (await conn.execute(sa.select(records.TIX))).all()
    assert not _holds_clear(vis + tix, new, before)
    assert records.visitor_id_number(vis[1], orders.ids) == new
    assert vis[1].id_hash == orders.ids.hash(new)
    assert await orders.with_id_number(new) == [oid]
    # the replaced visitor's revoked ticket stays theirs: the order is still found by it
    assert await orders.with_id_number(before) == [oid]


# -- migration 0002 ------------------------------------------------------------------------

IDS = IdNumbers(os.urandom(32), "migration-secret")


def _insert_clear_rows(conn: Connection) -> None:
    """Rows as a hub at revision 0001 wrote them: ID numbers in clear."""
    md = sa.MetaData()
    vis = sa.Table("order_visitor", md, autoload_with=conn)
    tix = sa.Table("ticket", md, autoload_with=conn)
    assert "id_number" in vis.c and "holder_id_number" in tix.c
    pg = conn.dialect.name == "postgresql"

    def ts(at: datetime) -> datetime:
        return at if pg else at.replace(tzinfo=None)

    base = {
        "channel": "boxoffice",
        "venue_id": "v1",
        "state": "confirmed",
        "travel_date": T0.date(),
        "slot": "",
        "amount": 0,
        "currency": "CNY",
        "lines": [],
        "contact": {},
        "extra": {},
        "updated_at": T0,
    }
    conn.execute(
        OrderRow.__table__.insert(),
        [
            {**base, "id": "O1", "partner_order_id": "p1", "created_at": T0},
            {**base, "id": "O2", "partner_order_id": "p2", "created_at": T0 + timedelta(hours=1)},
        ],
    )
    conn.execute(
        vis.insert(),
        [
            {"order_id": "O1", "idx": 0, "name": "A", "id_type": "id_card", "id_number": PERSON},
            {"order_id": "O1", "idx": 1, "name": "B", "id_type": "id_card", "id_number": OTHER},
            {"order_id": "O1", "idx": 2, "name": "C", "id_type": "id_card", "id_number": None},
            {"order_id": "O2", "idx": 0, "name": "A", "id_type": "id_card", "id_number": PERSON},
        ],
    )
    ticket = {
        "product_id": "realname",
        "venue_id": "v1",
        "valid_from": ts(T0),
        "valid_until": ts(T0 + timedelta(days=1)),
        "entries_allowed": 1,
        "entries_used": 0,
        "units": 1,
        "state": "valid",
        "credential": "",
        "change_seq": 1,
    }
    conn.execute(
        tix.insert(),
        [
            {
                **ticket,
                "id": "T1",
                "order_id": "O1",
                "visitor_index": 0,
                "holder_id_number": PERSON,
            },
            {**ticket, "id": "T2", "order_id": "O1", "visitor_index": 1, "holder_id_number": OTHER},
            {
                **ticket,
                "id": "T3",
                "order_id": "O2",
                "visitor_index": None,
                "holder_id_number": None,
            },
        ],
    )
    # a face references ticket T1: sealing must not re-create (and so empty) `ticket`
    conn.execute(
        FaceRow.__table__.insert(),
        {
            "ticket_id": "T1",
            "venue_id": "v1",
            "version": "f1",
            "photo": b"\x01sealed",
            "width": 64,
            "height": 64,
            "size": 7,
            "source": "staff",
            "enrolled_at": T0,
        },
    )


async def _at_0001_with_clear_rows(url: str) -> None:
    await migrate.upgrade(url, "0001")
    engine = create_admin_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_insert_clear_rows)
    finally:
        await engine.dispose()


async def _rows(url: str, table: str) -> list[Any]:
    engine = create_admin_engine(url)
    try:
        async with engine.connect() as conn:
            t = await conn.run_sync(lambda c: sa.Table(table, sa.MetaData(), autoload_with=c))
            return list((await conn.execute(sa.select(t))).all())
    finally:
        await engine.dispose()


async def test_0002_seals_clear_rows_and_keeps_them_readable_and_searchable(
    empty_db_url: str,
) -> None:
    await _at_0001_with_clear_rows(empty_db_url)
    await migrate.upgrade(empty_db_url, id_numbers=IDS)
    assert await migrate.current(empty_db_url) == migrate.head_revision()

    vis, tix = await _rows(empty_db_url, "order_visitor"), await _rows(empty_db_url, "ticket")
    assert "id_number" not in vis[0]._mapping and "holder_id_number" not in tix[0]._mapping
    assert not _holds_clear(vis + tix, PERSON, OTHER)
    assert len(await _rows(empty_db_url, "face")) == 1  # the face (and its ticket) survived

    engine = create_admin_engine(empty_db_url)
    try:
        async with engine.connect() as conn:
            o1 = await records.load_order(conn, ids=IDS, order_id="O1")
            assert o1 is not None
            assert [v.id_number for v in o1.visitors] == [PERSON, OTHER, None]
            assert {t.id: t.holder_id_number for t in o1.tickets} == {"T1": PERSON, "T2": OTHER}
            o2 = await records.load_order(conn, ids=IDS, order_id="O2")
            assert o2 is not None and o2.tickets[0].holder_id_number is None
            assert await records.orders_of_id_number(conn, IDS, PERSON.lower()) == ["O2", "O1"]
            assert await records.orders_of_id_number(conn, IDS, OTHER) == ["O1"]
            # the migration used the key it was given: another key opens nothing
            with pytest.raises(SealOpenError):
                await records.load_order(
                    conn, ids=IdNumbers(os.urandom(32), "migration-secret"), order_id="O1"
                )
    finally:
        await engine.dispose()
    # existing per-ID counters were keyed with the same hash: they still match
    by_key = {(r.order_id, r.idx): r for r in vis}
    assert by_key[("O1", 0)].id_hash == claims.id_key("migration-secret", PERSON)

    # and back: downgrade opens them into the clear columns again
    await migrate.downgrade(empty_db_url, "0001", id_numbers=IDS)
    back = {(r.order_id, r.idx): r.id_number for r in await _rows(empty_db_url, "order_visitor")}
    assert back == {("O1", 0): PERSON, ("O1", 1): OTHER, ("O1", 2): None, ("O2", 0): PERSON}
    held = {r.id: r.holder_id_number for r in await _rows(empty_db_url, "ticket")}
    assert held == {"T1": PERSON, "T2": OTHER, "T3": None}


def test_db_upgrade_seals_with_the_keys_of_the_environment(sqlite_url: str) -> None:
    """`tickethub db upgrade` reads the keys from the settings; with the public
    development keys outside TICKETHUB_DEV=1 it refuses to seal real rows."""
    import asyncio

    asyncio.run(_at_0001_with_clear_rows(sqlite_url))
    runner = CliRunner(env={"COLUMNS": "200", "TICKETHUB_DEV": None})
    args = ["db", "upgrade", "--database-url", sqlite_url]

    refused = runner.invoke(cli, args, env={"TICKETHUB_DEV": None})
    assert refused.exit_code == 2, refused.output
    assert "TICKETHUB_ID_HASH_SECRET" in refused.stderr
    assert "TICKETHUB_ID_NUMBER_KEY" in refused.stderr
    assert asyncio.run(migrate.current(sqlite_url)) == "0001"  # nothing changed

    key = os.urandom(32)
    env = {
        "TICKETHUB_DEV": None,
        "TICKETHUB_ID_HASH_SECRET": "operator-secret",
        "TICKETHUB_ID_NUMBER_KEY": base64.b64encode(key).decode(),
    }
    done = runner.invoke(cli, args, env=env)
    assert done.exit_code == 0, done.output
    vis = asyncio.run(_rows(sqlite_url, "order_visitor"))
    ids = IdNumbers(key, "operator-secret")
    assert {records.visitor_id_number(v, ids) for v in vis} == {PERSON, OTHER, None}
