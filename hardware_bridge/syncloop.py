"""When the bridge talks to the hub: sync rounds, heartbeats, reconnect and fail-back.

Why this shape: the old loop doubled its wait after every failed round up to 30 s, so a
bridge offline for a minute noticed the hub's return up to 30 s late (15 s on average).
Now an offline bridge sends a heartbeat (``POST …/heartbeat``: authenticated, no
database work at the hub) to every hub URL at once every ``heartbeat_interval`` seconds
and syncs through the most preferred one that answers, so the return is seen within one
interval (plus one heartbeat timeout when a link swallows packets). The wait never grows
beyond that interval: a heartbeat is a few hundred bytes, not a replay of the log.

Fail-back: while syncing through a backup URL, the preferred ones are probed with
heartbeats (never with real traffic) at most once per interval of the bridge's clock;
once one has answered ``failback_after`` heartbeats in a row, the sync moves back to it.

`SyncLoop.step` is one round and returns how long to wait; tests call it directly with
the bridge's clock in their hand, the task in `start` only adds the waiting.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from hub.sdk.runtime import cancel_and_wait, wait_event

if TYPE_CHECKING:
    from hardware_bridge.sync import HubLink

log = logging.getLogger(__name__)


class SyncLoop:
    def __init__(
        self,
        link: HubLink,
        *,
        interval: float = 2.0,
        heartbeat_interval: float = 2.0,
        failback_after: int = 2,
        config_every: float = 300.0,
    ) -> None:
        self.link = link
        self.interval = interval
        self.heartbeat_interval = heartbeat_interval
        self.failback_after = failback_after
        self.config_every = config_every
        self._last_probe: datetime | None = None
        self._last_config: datetime | None = None
        self._last_said = ""
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- one round ------------------------------------------------------------------------
    async def step(self) -> float:
        """Reconnect (offline), sync once, probe the preferred URLs (on a backup);
        returns the seconds to wait before the next round."""
        from hardware_bridge.transport import HubRefused, HubUnavailable

        link = self.link
        try:
            if not link.state.online:
                await self.reconnect()
            await link.sync_once()  # decisions first: they matter more than config
            self._last_said = ""
            if link.links.active != 0:
                # after the sync, so a preferred link that swallows packets costs the
                # decisions no heartbeat timeout; a fail-back applies from the next round
                await self.probe_preferred()
            now = link.clock.now()
            if self._last_config is None:
                self._last_config = now  # `Bridge.start` read the config just before
            elif (now - self._last_config).total_seconds() >= self.config_every:
                await link.pull_config()
                self._last_config = now
            return self.interval
        except HubRefused as exc:
            self._say(logging.ERROR, "hub refused the bridge (check its token and venue)", exc)
        except HubUnavailable as exc:
            self._say(logging.INFO, "hub unreachable", exc)
        except Exception:
            log.exception("sync round failed")
        return self.heartbeat_interval

    def _say(self, level: int, what: str, exc: Exception) -> None:
        """Log a failed round once, not every heartbeat: an outage of hours would
        otherwise write the same line every two seconds (repeats go to DEBUG)."""
        said = f"{what}: {exc}"
        log.log(level if said != self._last_said else logging.DEBUG, "%s", said)
        self._last_said = said

    async def reconnect(self) -> None:
        """Offline: a heartbeat to every URL at once; the most preferred that answers
        becomes the active one. Raises `HubUnavailable` when none does."""
        from hardware_bridge.transport import HubRefused, HubUnavailable

        link = self.link
        answers = await asyncio.gather(*(link.heartbeat(i) for i in range(len(link.links))))
        up = [i for i, a in enumerate(answers) if a == "up"]
        if not up:
            why = "; ".join(f"#{i} {s.last_error}" for i, s in enumerate(link.links.urls))
            link.state.failures += 1
            link.state.last_error = f"no hub URL answered a heartbeat: {why}"[:1000]
            error = HubRefused if "refused" in answers else HubUnavailable
            raise error(link.state.last_error)
        link.links.switch(up[0], link.clock.now(), "answered a heartbeat after an outage")

    async def probe_preferred(self) -> None:
        """On a backup: heartbeat the URLs before it (at most once per interval of the
        bridge's clock) and fail back to the best one that answered often enough."""
        link = self.link
        now = link.clock.now()
        if (
            self._last_probe is not None
            and (now - self._last_probe).total_seconds() < self.heartbeat_interval
        ):
            return
        self._last_probe = now
        better = range(link.links.active)
        answers = await asyncio.gather(*(link.heartbeat(i) for i in better))
        for i, answer in zip(better, answers, strict=True):
            if answer == "up" and link.links.urls[i].ok_streak >= self.failback_after:
                streak = link.links.urls[i].ok_streak
                link.links.switch(i, now, f"answered {streak} heartbeats in a row")
                return

    # -- the task ---------------------------------------------------------------------------
    def start(self, interval: float, config_every: float = 300.0) -> None:
        self.interval = interval
        self.config_every = config_every
        self._task = asyncio.create_task(self._run(), name="bridge-sync")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        while True:
            # cleared before the round: a decision logged during it wakes the next one
            # at once instead of waiting a whole interval
            self._wake.clear()
            delay = await self.step()
            await wait_event(self._wake, delay)
