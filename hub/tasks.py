"""Background tasks: stopping one (cancel it and wait until it has really ended, so
whatever it held — a connection, a thread's queue — is released before the caller goes
on), and running a round every N seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (``None``: nothing runs) and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class Periodic:
    """A coroutine run every ``every_seconds`` in the background until `stop` (``0``: never
    by itself — tests and one-shot tools call the round directly). A round that fails is
    logged and the next one runs on schedule: a bad tick must not end the loop."""

    def __init__(
        self,
        name: str,
        every_seconds: float,
        round_: Callable[[], Awaitable[Any]],
        log: logging.Logger,
    ) -> None:
        self.name = name
        self.every_seconds = every_seconds
        self._round = round_
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.every_seconds > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _loop(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                self._log.exception("%s failed; next round in %g s", self.name, self.every_seconds)
            await asyncio.sleep(self.every_seconds)


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it was set.

    For the background loops that sleep until woken. Not ``asyncio.wait_for(event.wait(),
    …)``: on Python 3.11 that swallows a cancellation arriving in the same round as the
    event (it returns the finished wait instead of raising), so a loop stopped right after
    a wake-up ran on forever and its ``stop()`` never returned — seen as suites hanging in
    a hub's teardown once stock moves started waking the stock pusher.
    ``asyncio.timeout`` lets the cancellation through."""
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
    except TimeoutError:
        return False
    return True
