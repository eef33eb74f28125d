"""Group commit: orders that arrive together share one transaction and one fsync.

At a few hundred orders a second the fixed cost of a transaction (the commit's fsync on
SQLite, the round trips on PostgreSQL) dominates. One writer task per process takes every
order waiting in its queue, runs them in ONE transaction and answers each caller only
after that transaction committed — durability is unchanged (nothing is acknowledged
before it is on disk), but the cost is shared. Under light load a batch is one order and
nothing waits for a timer.

The queue in front of the writer is bounded (``queue_max``, `TICKETHUB_ORDER_QUEUE_MAX`):
when it is full a new order is refused at once with `WriterBusy` — the endpoints answer
``503`` + ``Retry-After`` (partners their own "busy, retry" code) — instead of joining a
queue it would only age in until its client gave up. A refused order wrote nothing.

The transactions run on a loop of their own (``own_loop=True``, what the hub does): a
dedicated thread with its own event loop and its own small engine on the same database.
A batch is about ten statements, and each statement is a round trip to the database
driver's thread (aiosqlite) or socket (asyncpg); on the request loop every one of those
round trips waited behind the HTTP requests queued there, so under load the batch —
and with it every order in flight — waited on the loop about ten times per commit. On
its own loop the writer's round trips are answered at once; the request loop only hands
over a batch and receives the answers. Durability is unchanged: same database, same
transaction, same fsync, nothing answered before its commit.

If a batch fails as a whole (a bug, a constraint), its orders are retried one by one so a
single poisoned order cannot take its neighbours down. Deadlocks and serialization
failures on PostgreSQL retry the batch (tenacity).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random

from hub.metrics import BATCH_SIZE
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)
Item = TypeVar("Item")
R = TypeVar("R")

#: process(conn, items) runs inside the transaction; finish(items, results) after commit.
Process = Callable[[AsyncConnection, Sequence[Item]], Awaitable[list[R]]]
Finish = Callable[[Sequence[Item], list[R]], Awaitable[list[R]]]


class WriterBusy(RuntimeError):
    """The admission queue is full: the order was not queued and nothing was written."""


def default_queue_max(batch_max: int) -> int:
    """Two batches waiting behind the one committing: enough to keep every commit full
    under load, short enough that a queued order is answered within about three commit
    times (well under a client's patience) instead of ageing behind a burst."""
    return max(8, 2 * batch_max)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in {"40P01", "40001"}
    return False


class GroupCommitWriter(Generic[Item, R]):
    def __init__(
        self,
        engine: AsyncEngine,
        process: Process[Item, R],
        finish: Finish[Item, R],
        batch_max: int,
        queue_max: int | None = None,
        *,
        own_loop: bool = False,
    ) -> None:
        self.engine = engine
        self.own_loop = own_loop and engine.url.database not in (None, "", ":memory:")
        self._thread: _WriterThread | None = None
        self.process = process
        self.finish = finish
        self.batch_max = batch_max
        self.queue_max = queue_max if queue_max is not None else default_queue_max(batch_max)
        if self.queue_max < 1:
            raise ValueError("queue_max must be at least 1")
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            if self.own_loop and self._thread is None:
                self._thread = _WriterThread(self.engine.url.render_as_string(hide_password=False))
            self._task = asyncio.create_task(self._run(), name="order-writer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.close)
            self._thread = None
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("hub is shutting down"))

    @property
    def full(self) -> bool:
        """True when a new order would be refused (`WriterBusy`)."""
        return self._queue.qsize() >= self.queue_max

    async def submit(self, item: Item) -> R:
        """Queue `item` and wait until its batch committed; `WriterBusy` at once (nothing
        queued) when `queue_max` orders are already waiting."""
        if self._task is None:
            raise RuntimeError("order writer is not running")
        if self.full:
            raise WriterBusy(f"{self._queue.qsize()} orders waiting for the writer")
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            BATCH_SIZE.observe(len(batch))
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._transaction(items)
        except Exception as exc:
            if len(batch) > 1:
                log.warning("batch of %d failed (%s); retrying one by one", len(batch), exc)
                for one in batch:
                    await self._commit([one])
                return
            log.exception("order failed")
            if not batch[0][1].done():
                batch[0][1].set_exception(exc)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(result)

    async def _transaction(self, items: list[Item]) -> list[R]:
        if self._thread is not None:
            results = await asyncio.wrap_future(self._thread.submit(self._attempts(items)))
        else:
            results = await self._attempts(items, self.engine)
        return await self.finish(items, results)

    async def _attempts(self, items: list[Item], engine: AsyncEngine | None = None) -> list[R]:
        """The batch's transaction, retried on deadlocks and serialization failures; on
        the writer's own loop when it has one (``engine`` None: that loop's engine)."""
        if engine is None:
            assert self._thread is not None and self._thread.engine is not None
            engine = self._thread.engine
        cpu0 = time.thread_time() if _CPU_LOG else 0.0
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(5),
            wait=wait_random(0.001, 0.02),
            reraise=True,
        ):
            with attempt:
                async with engine.begin() as conn:
                    results = await self.process(conn, items)
        if _CPU_LOG:
            _cpu_note(time.thread_time() - cpu0, len(items))
        return results


#: Debug only: a file that receives the writer thread's CPU per batch (see `_cpu_note`).
_CPU_LOG = os.environ.get("HUB_DEBUG_WRITER_CPU_LOG", "")
_cpu_batches: list[tuple[int, float]] = []  # (orders, seconds) per batch


def _cpu_note(seconds: float, orders: int) -> None:
    """Record one batch's transaction CPU (the calling thread's) and, every 20 batches,
    overwrite `_CPU_LOG` with all of them (one "orders seconds" line per batch): a cost
    figure that machine load does not skew much, for the writer's fixed cost per batch."""
    if len(_cpu_batches) >= 100_000:  # a bench's worth; never grow without bound
        return
    _cpu_batches.append((orders, seconds))
    if len(_cpu_batches) % 20 == 0:
        with open(f"{_CPU_LOG}.{os.getpid()}", "w") as f:
            f.writelines(f"{n} {s:.6f}\n" for n, s in _cpu_batches)


class _WriterThread:
    """A thread running an event loop (uvloop when installed) and an engine of one
    connection on the writer's database, for the writer's transactions only."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="order-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise RuntimeError("the order writer's thread did not start") from self._failed

    def _main(self) -> None:
        try:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:  # pragma: no cover - uvloop is a dependency
            loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            from hub.storage.db import create_engine

            self.engine = create_engine(self.url, pool_size=1)
        except BaseException as exc:
            self._failed = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()

        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.engine.dispose())
            loop.close()

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
