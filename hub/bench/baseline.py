"""The baseline server: the least a correct order endpoint can do, to compare the hub with.

One bare aiohttp handler; per request ONE transaction with ONE conditional update::

    UPDATE bench_baseline SET sold = sold + :q
     WHERE id = :id AND sold + :q <= capacity RETURNING sold

→ 201 when a row came back, 409 ``SOLD_OUT`` when none did. It uses the hub's own engine
factory (`hub.storage.db.create_engine`), so on SQLite it runs with the same durability
(WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``) and pool size as the hub, and on
PostgreSQL the same driver. What the hub adds on top — parsing, rules, idempotency,
the order and ticket rows, credentials — is what the ratio hub/baseline prices.

Run: ``python -m hub.bench.baseline --port P --database-url URL`` (the bench starts N of
them through `hub.testing.processes.ServerProcesses`, like the hub).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.process import run_async, serve_until_signalled
from hub.storage.db import create_admin_engine, create_engine

METADATA = MetaData()
BASELINE = Table(
    "bench_baseline",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("capacity", Integer, nullable=False),
    Column("sold", Integer, nullable=False, default=0),
)
_RESERVE = text(
    "UPDATE bench_baseline SET sold = sold + :q "
    "WHERE id = :id AND sold + :q <= capacity RETURNING sold"
)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)


async def setup_rows(database_url: str, rows: Mapping[int, int]) -> None:
    """Create the table if needed and reset it to `rows` (id → capacity, nothing sold)."""
    engine = create_admin_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
            await conn.execute(delete(BASELINE))
            if rows:
                await conn.execute(
                    insert(BASELINE),
                    [{"id": k, "capacity": v, "sold": 0} for k, v in rows.items()],
                )
    finally:
        await engine.dispose()


async def read_rows(database_url: str) -> dict[int, tuple[int, int]]:
    """id → (capacity, sold), to check the baseline never oversold either."""
    engine = create_admin_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(select(BASELINE.c.id, BASELINE.c.capacity, BASELINE.c.sold))
            return {int(r.id): (int(r.capacity), int(r.sold)) for r in result}
    finally:
        await engine.dispose()


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def order(request: web.Request) -> web.Response:
    """Reserve `quantity` units of row `id`, in one transaction of one statement."""
    try:
        body = await request.json()
        row_id = int(body["id"])
        quantity = int(body.get("quantity", 1))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return _error(400, "INVALID_REQUEST", 'expected {"id": int, "quantity": int}')
    if quantity < 1:
        return _error(400, "INVALID_REQUEST", "quantity must be at least 1")
    async with request.app[ENGINE].begin() as conn:
        sold = (await conn.execute(_RESERVE, {"q": quantity, "id": row_id})).scalar_one_or_none()
    if sold is None:
        return _error(409, "SOLD_OUT", "not enough capacity left")
    return web.json_response({"id": row_id, "quantity": quantity, "sold": sold}, status=201)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(database_url: str, *, pool_size: int = 10) -> web.Application:
    """The baseline application; the engine is opened and disposed with the app."""
    app = web.Application()

    async def engine_ctx(app: web.Application) -> Any:
        app[ENGINE] = create_engine(database_url, pool_size=pool_size)
        yield
        await app[ENGINE].dispose()

    app.cleanup_ctx.append(engine_ctx)
    app.router.add_post("/orders", order)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(host: str, port: int, database_url: str, pool_size: int) -> None:
    """Serve until SIGTERM or SIGINT, then close connections and the engine cleanly —
    the way `tickethub serve` does (same backlog), so the comparison is fair."""
    app = create_app(database_url, pool_size=pool_size)
    await serve_until_signalled(app, host, port, backlog=1024)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.bench.baseline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args(argv)
    run_async(serve(args.host, args.port, args.database_url, args.pool_size))


if __name__ == "__main__":
    main()
