"""The flow-wall clients of ``tickethub bench orders --sse-clients N``, in a process of
their own.

Why a separate process: fifty SSE clients parsing every snapshot inside the load
generator share its event loop and its CPU, so they slow the generator — which then
looks like a slower hub. Here they run in a child process (``python -m
hub.bench.wall_clients``) with its own loop; the bench measures the hub's CPU from /proc
as before, and this process's own CPU separately.

The child speaks one JSON line per answer on stdout:

- at start, once every client has its first snapshot: ``{"ready": N}``;
- ``status`` on stdin: snapshots received so far (all clients, and the fewest of one
  client), the fewest orders sold today any client's wall shows, its CPU seconds;
- ``until <orders> <seconds>``: waits (bounded) until every client's wall shows at least
  that many orders sold today, then answers as ``status`` plus ``reached`` and
  ``waited_ms`` — the proof that the clients really receive updates, and how late;
- end of stdin: it closes its streams and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any

from hub import jsonutil
from hub.bench.orders import VENUE
from hub.testing.processes import python_module_argv

#: the admin token travels in the environment, not on a command line anyone can read
TOKEN_ENV = "TICKETHUB_BENCH_WALL_TOKEN"
READY_TIMEOUT = 90.0


def status(walls: Any) -> dict[str, Any]:
    """What the clients saw so far (see the module doc)."""
    return {
        "events": walls.events,
        "events_min": min(walls.counts, default=0),
        "orders_min": min(walls.orders, default=0),
        "cpu_s": round(time.process_time(), 3),
    }


async def _serve(urls: Sequence[str], token: str, n: int, venue: str, out: IO[str]) -> None:
    from hub.bench.wall import WallWatchers

    def say(value: dict[str, Any]) -> None:
        out.write(jsonutil.dumps(value) + "\n")
        out.flush()

    async with WallWatchers(urls, token, n, venue) as walls:
        say({"ready": n})
        while line := await asyncio.to_thread(sys.stdin.readline):
            command, *args = line.split()
            if command == "until":
                started = time.perf_counter()
                reached = True
                try:
                    await walls.until_orders(int(args[0]), float(args[1]))
                except TimeoutError:
                    reached = False
                waited = round((time.perf_counter() - started) * 1000, 1)
                say({**status(walls), "reached": reached, "waited_ms": waited})
            else:
                say(status(walls))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--venue", default=VENUE)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.urls, os.environ[TOKEN_ENV], args.clients, args.venue, sys.stdout))


class WallClientsProcess:
    """The bench's side of the child: ``async with WallClientsProcess(urls, token, n)``
    returns once its ``n`` clients are connected (nothing is started for ``n == 0``)."""

    def __init__(self, urls: Sequence[str], token: str, n: int, venue: str = VENUE) -> None:
        self.argv = python_module_argv(
            "hub.bench.wall_clients", "--clients", str(n), "--venue", venue, *urls
        )
        self.token = token
        self.n = n
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def __aenter__(self) -> WallClientsProcess:
        if not self.n:
            return self
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, TOKEN_ENV: self.token},
        )
        try:
            ready = await self._answer(READY_TIMEOUT)
        except BaseException:
            await self._stop()
            raise
        if ready.get("ready") != self.n:
            await self._stop()
            raise RuntimeError(f"the wall clients did not start: {ready}")
        return self

    async def _answer(self, timeout: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self._proc.stdout.readline()
        if not line:
            code = await self._proc.wait()
            raise RuntimeError(f"the wall clients' process ended (exit {code}); see its stderr")
        answer: dict[str, Any] = jsonutil.loads(line)
        return answer

    async def ask(self, command: str, timeout: float = 30.0) -> dict[str, Any]:
        """One command, its answer (empty figures when no clients run)."""
        if self._proc is None:
            return {"events": 0, "events_min": 0, "orders_min": None, "cpu_s": 0.0}
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{command}\n".encode())
        await self._proc.stdin.drain()
        return await self._answer(timeout)

    async def until_orders(self, orders: int, timeout: float) -> dict[str, Any]:
        """Wait (at most ``timeout`` s) until every client's wall shows ``orders`` sold."""
        return await self.ask(f"until {orders} {timeout}", timeout + 10)

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()


if __name__ == "__main__":
    main()
