"""The honest ceiling: the fastest correct order endpoint with the hub's own durability.

The hub is compared with this server in the same run (``ratio`` = hub ÷ ceiling). It does
the least a correct order endpoint must do, as fast as Python can do it:

* aiohttp on uvloop (`hub.process.run_async`), one handler, orjson;
* per order, the conditional UPDATE that makes overselling impossible and ONE INSERT of
  the order row::

      UPDATE bench_baseline SET sold = sold + ? WHERE id = ? AND sold + ? <= capacity
        RETURNING sold
      INSERT INTO bench_ceiling_orders (row_id, quantity, created_at) VALUES (?, ?, ?)

* group commit like the hub's writer (`hub.orders.writer`): every order waiting when a
  transaction starts joins it (at most ``--batch-max``, the hub's default 128), and each
  answer leaves only after its transaction committed;
* on SQLite: stdlib `sqlite3` in ONE dedicated writer thread (no thread hop per
  statement), WAL, ``synchronous=FULL`` and ``BEGIN IMMEDIATE`` as `hub.storage.db`
  sets them — one fsync per batch, exactly the hub's durability;
* on PostgreSQL: asyncpg with both statements prepared once, one writer task and
  connection per process.

It never oversells: the UPDATE's guard holds across batches, threads and processes (the
write lock on SQLite, the row lock on PostgreSQL). What the hub adds on top — parsing and
validating the canonical request, rules, idempotency, the visitor, allocation and ticket
rows, signed credentials, the outbox — is what the ratio prices.

Run: ``python -m hub.bench.ceiling --port P --database-url URL`` (the bench starts N of
them through `hub.testing.processes.ServerProcesses`, like the hub).
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import orjson
from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, func, select
from sqlalchemy.engine import make_url

from hub.bench import baseline
from hub.process import run_async, serve_until_signalled
from hub.storage.db import create_admin_engine, is_sqlite
from hub.tasks import cancel_and_wait

METADATA = MetaData()
ORDERS = Table(
    "bench_ceiling_orders",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("row_id", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("created_at", Text, nullable=False),
)
RESERVE_SQLITE = (
    "UPDATE bench_baseline SET sold = sold + ? WHERE id = ? AND sold + ? <= capacity RETURNING sold"
)
INSERT_SQLITE = "INSERT INTO bench_ceiling_orders (row_id, quantity, created_at) VALUES (?, ?, ?)"
RESERVE_PG = (
    "UPDATE bench_baseline SET sold = sold + $1 WHERE id = $2 AND sold + $1 <= capacity "
    "RETURNING sold"
)
INSERT_PG = "INSERT INTO bench_ceiling_orders (row_id, quantity, created_at) VALUES ($1, $2, $3)"
DEFAULT_BATCH_MAX = 128  # the hub's default TICKETHUB_BATCH_MAX


class Writer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def reserve(self, row_id: int, quantity: int) -> int | None: ...


async def setup(database_url: str, rows: dict[int, int]) -> None:
    """The inventory rows (id → capacity, nothing sold) and an empty order table."""
    await baseline.setup_rows(database_url, rows)
    engine = create_admin_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
            await conn.execute(delete(ORDERS))
    finally:
        await engine.dispose()


async def order_units(database_url: str) -> dict[int, int]:
    """row id → units in the ceiling's order rows (each sale wrote exactly one)."""
    engine = create_admin_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                select(ORDERS.c.row_id, func.sum(ORDERS.c.quantity)).group_by(ORDERS.c.row_id)
            )
            return {int(r): int(n) for r, n in result}
    finally:
        await engine.dispose()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SqliteWriter:
    """One thread owns the connection; the event loop hands it orders through a queue
    and gets each batch's answers back in one ``call_soon_threadsafe``."""

    def __init__(self, path: str, batch_max: int) -> None:
        self.path = path
        self.batch_max = batch_max
        self._queue: queue.SimpleQueue[tuple[int, int, asyncio.Future[int | None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="ceiling-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def reserve(self, row_id: int, quantity: int) -> int | None:
        assert self._loop is not None
        fut: asyncio.Future[int | None] = self._loop.create_future()
        self._queue.put((row_id, quantity, fut))
        return await fut

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # the hub's pragmas (hub.storage.db._sqlite_pragmas): same durability
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _run(self) -> None:
        conn = self._connect()
        loop = self._loop
        assert loop is not None
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self.batch_max:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                answers: list[int | None] | BaseException
                try:
                    answers = self._commit(conn, [(r, q) for r, q, _ in batch])
                except Exception as exc:  # answered to every caller of the batch
                    answers = exc
                loop.call_soon_threadsafe(_deliver, [f for _, _, f in batch], answers)
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _commit(conn: sqlite3.Connection, orders: list[tuple[int, int]]) -> list[int | None]:
        now = _now()
        answers: list[int | None] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row_id, quantity in orders:
                got = conn.execute(RESERVE_SQLITE, (quantity, row_id, quantity)).fetchone()
                if got is None:
                    answers.append(None)
                    continue
                conn.execute(INSERT_SQLITE, (row_id, quantity, now))
                answers.append(int(got[0]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return answers


def _deliver(futures: list[asyncio.Future[int | None]], answers: Any) -> None:
    for i, fut in enumerate(futures):
        if fut.done():
            continue
        if isinstance(answers, BaseException):
            fut.set_exception(answers)
        else:
            fut.set_result(answers[i])


class PostgresWriter:
    """One connection and one task per process; both statements prepared once."""

    def __init__(self, url: str, batch_max: int) -> None:
        self.url = make_url(url)
        self.batch_max = batch_max
        self._queue: asyncio.Queue[tuple[int, int, asyncio.Future[int | None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def start(self) -> None:
        import asyncpg

        u = self.url
        self._conn = await asyncpg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or "postgres",
            password=u.password,
            database=u.database or "postgres",
        )
        self._task = asyncio.create_task(self._run(), name="ceiling-writer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def reserve(self, row_id: int, quantity: int) -> int | None:
        fut: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row_id, quantity, fut))
        return await fut

    async def _run(self) -> None:
        conn = self._conn
        reserve = await conn.prepare(RESERVE_PG)
        insert = await conn.prepare(INSERT_PG)
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            answers: list[int | None] | BaseException = []
            now = _now()
            try:
                async with conn.transaction():
                    for row_id, quantity, _ in batch:
                        sold = await reserve.fetchval(quantity, row_id)
                        if sold is not None:
                            await insert.fetchval(row_id, quantity, now)
                        answers.append(sold)
            except Exception as exc:
                answers = exc
            _deliver([f for _, _, f in batch], answers)


WRITER: web.AppKey[Writer] = web.AppKey("ceiling_writer", Writer)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def order(request: web.Request) -> web.Response:
    """Reserve `quantity` units of row `id` and record the order, group-committed."""
    try:
        body = orjson.loads(await request.read())
        row_id = int(body["id"])
        quantity = int(body.get("quantity", 1))
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError):
        return _error(400, "INVALID_REQUEST", 'expected {"id": int, "quantity": int}')
    if quantity < 1:
        return _error(400, "INVALID_REQUEST", "quantity must be at least 1")
    sold = await request.app[WRITER].reserve(row_id, quantity)
    if sold is None:
        return _error(409, "SOLD_OUT", "not enough capacity left")
    return web.Response(
        body=orjson.dumps({"id": row_id, "quantity": quantity, "sold": sold}),
        status=201,
        content_type="application/json",
    )


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(database_url: str, *, batch_max: int = DEFAULT_BATCH_MAX) -> web.Application:
    """The ceiling application; its writer starts and stops with the app."""
    app = web.Application()

    async def writer_ctx(app: web.Application) -> AsyncIterator[None]:
        writer: Writer
        if is_sqlite(database_url):
            path = make_url(database_url).database
            if not path:
                raise ValueError("the ceiling needs a SQLite file, not an in-memory database")
            writer = SqliteWriter(path, batch_max)
        else:
            writer = PostgresWriter(database_url, batch_max)
        await writer.start()
        app[WRITER] = writer
        yield
        await writer.stop()

    app.cleanup_ctx.append(writer_ctx)
    app.router.add_post("/orders", order)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.bench.ceiling", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batch-max", type=int, default=DEFAULT_BATCH_MAX)
    args = parser.parse_args(argv)
    app = create_app(args.database_url, batch_max=args.batch_max)
    run_async(serve_until_signalled(app, args.host, args.port, backlog=1024))


if __name__ == "__main__":
    main()
