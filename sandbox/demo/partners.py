"""What the demo's OTA steps share: the sandbox partner each runs next to the hub, and a
bounded wait for the hub's calls to reach it.

The runner starts a partner's sandbox BEFORE the hub (the hub's channel settings point
at it) and the step runs later, so the step finds its sandbox again through the hub's
port (`Sandboxes.find`); a step whose sandbox was never started says so in the summary
instead of failing with a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sandbox.demo.context import DemoContext, Section


class Closable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


@dataclass
class PartnerSandbox(Generic[S]):
    """A started sandbox partner and the channel settings that point the hub at it."""

    server: S
    settings: dict[str, str]

    async def stop(self) -> None:
        await self.server.close()


class Sandboxes(Generic[S]):
    """The sandboxes of one partner, by the port of the hub they were started for."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._by_port: dict[int, PartnerSandbox[S]] = {}

    def add(self, hub_port: int, server: S, settings: dict[str, str]) -> PartnerSandbox[S]:
        running = PartnerSandbox(server, settings)
        self._by_port[hub_port] = running
        return running

    def find(self, ctx: DemoContext, section: Section) -> PartnerSandbox[S] | None:
        """The sandbox next to the hub at ``ctx.base_url``; when there is none, the
        section records the failed expectation."""
        running = self._by_port.get(int(ctx.base_url.rsplit(":", 1)[1]))
        if running is None:
            section.expect(f"{self.what} running next to the hub", False, "not started")
        return running


async def until(check: Callable[[], bool], timeout: float) -> bool:
    """Wait (bounded) until `check` holds: the hub's partner calls go out in the
    background, through the outbox. False when `timeout` seconds passed first."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        return False
    return True
