"""Stopping a background task: cancel it and wait until it has really ended, so whatever
it held (a connection, a thread's queue) is released before the caller goes on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (``None``: nothing runs) and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
