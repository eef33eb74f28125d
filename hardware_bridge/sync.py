"""The link to the hub: config and ticket changes down by cursor, the log up by id.

Every step is resumable. Down: a page and the cursor after it are stored in one local
transaction, so an interruption re-reads at most one page. Up: a batch of unsynced log
rows is posted; the hub records each id once, so a batch that committed at the hub but
whose answer was lost is simply sent again and counted nothing twice; rows are marked
synced only after the hub's 200.

Several hub URLs may be configured (`hardware_bridge.links`): a call that cannot reach
the active one (refused connection, timeout, 5xx) is tried on the others in order of
preference and the first that answers becomes the active one (fail-over); a refusal (4xx)
is a configuration problem, reported and never hopped over — that round trip, heartbeats
and health reports are `hardware_bridge.transport`. Online/offline is a fact
this link observes: a round where no URL answered turns the bridge offline, the first
successful round turns it online again. When to try again, heartbeats and fail-back to a
preferred URL live in `hardware_bridge.syncloop`. Decisions never wait for any of this.

Face photos are not in the change pages: after the pages, the tickets whose face version
moved are fetched one by one (``/faces/{ticket_id}``, a bounded number per round), and
photos nobody wants any more are deleted (`hardware_bridge.faces`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from hardware_bridge.ceiling import Ceiling
from hardware_bridge.faces import Dropped, FaceCache
from hardware_bridge.links import Links
from hardware_bridge.store import BridgeStore
from hardware_bridge.syncloop import SyncLoop
from hardware_bridge.transport import HubRefused, HubTransport, HubUnavailable
from hub.sdk import Clock
from hub.sdk.jpeg import JpegError, inspect

log = logging.getLogger(__name__)


FacesChanged = Callable[[list[str], list[str], list[Dropped]], Awaitable[None]]


@dataclass
class LinkState:
    online: bool = False
    last_ok: datetime | None = None
    last_error: str = ""
    hub_time_skew_s: float | None = None  # hub clock - bridge clock (config, heartbeat)
    uploaded: int = 0
    duplicates: int = 0
    conflicts: int = 0
    pulled: int = 0
    faces_fetched: int = 0
    round_trips: int = 0
    failures: int = 0
    heartbeats: int = 0
    health_reports: int = 0  # health reports the hub took after a sync round
    history: list[tuple[str, bool]] = field(default_factory=list)  # (when, online) switches


class HubLink(HubTransport):
    def __init__(
        self,
        store: BridgeStore,
        http: aiohttp.ClientSession,
        clock: Clock,
        *,
        hub_url: str | Sequence[str],
        venue_id: str,
        token: str,
        bridge_id: str,
        batch: int = 1000,
        page: int = 2000,
        timeout: float = 10.0,
        heartbeat_timeout: float = 2.0,
        interval: float = 2.0,
        heartbeat_interval: float = 2.0,
        failback_after: int = 2,
        on_config: Callable[[dict[str, Any]], None] | None = None,
        on_tickets: Callable[[list[str]], Awaitable[None]] | None = None,
        on_faces: FacesChanged | None = None,
        faces_per_round: int = 100,
        health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        on_round: Callable[[float], None] | None = None,
        before_push: Callable[[], Awaitable[Any]] | None = None,
        after_pull: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        # extra steps of every round (the emergency box office: its orders go up before
        # the decisions that may name their tickets; its allotments and keys come down)
        self.before_push = before_push
        self.after_pull = after_pull
        self._round = asyncio.Lock()
        self.health = health  # what heartbeats and rounds report (`hardware_bridge.health`)
        self.on_round = on_round  # the duration of each successful round (the metrics)
        self.store = store
        self.ceiling = Ceiling(store)
        self.http = http
        self.clock = clock
        urls = [hub_url] if isinstance(hub_url, str) else list(hub_url)
        self.links = Links(urls, bridge_id)
        self.venue_id = venue_id
        self.bridge_id = bridge_id
        self.batch = batch
        self.page = page
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.heartbeat_timeout = aiohttp.ClientTimeout(total=heartbeat_timeout)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.on_config = on_config
        self.on_tickets = on_tickets
        self.on_faces = on_faces
        self.faces = FaceCache(store)
        self.faces_per_round = faces_per_round
        self.state = LinkState()
        self.loop = SyncLoop(
            self,
            interval=interval,
            heartbeat_interval=heartbeat_interval,
            failback_after=failback_after,
        )

    @property
    def hub_url(self) -> str:
        """The URL the bridge syncs through now."""
        return self.links.url

    @hub_url.setter
    def hub_url(self, url: str) -> None:
        # benches and tests move the active link by hand
        self.links.set_url(self.links.active, url)

    async def pull_config(self) -> dict[str, Any]:
        config = await self._call("GET", "/config")
        self.store.set_meta("config", _json(config))
        self._skew(config)
        if self.on_config is not None:
            self.on_config(config)
        return config

    async def pull_ceiling(self) -> None:
        """The in-park count and this bridge's share (`hardware_bridge.ceiling`), asked
        right after the upload so the hub's count holds every row up to ``n``. A hub
        without the route (404) leaves the last share in place."""
        n = self.ceiling.synced_upto()
        try:
            answer = await self._call("POST", "/ceiling", json={"bridge": self.bridge_id})
        except HubRefused as exc:
            if exc.status == 404:
                return
            raise
        self.ceiling.from_hub(answer, n)

    async def pull_changes(self) -> int:
        """Every change after the stored cursor, page by page; returns tickets received."""
        total = 0
        while True:
            cursor = self.store.meta("cursor")
            page = await self._call(
                "GET", "/changes", params={"cursor": cursor, "limit": str(self.page)}
            )
            changed = self.store.apply_changes(page["tickets"], page["cursor"])
            total += len(changed)
            if changed and self.on_tickets is not None:
                await self.on_tickets(changed)
            if not page["more"]:
                break
        self.state.pulled += total
        return total

    async def pull_faces(self) -> int:
        """Fetch the photos the tickets want and drop the ones nobody wants; tell the
        devices. Returns photos fetched (more may wait for the next round)."""
        now = self.clock.now().isoformat()
        fresh: list[str] = []
        replaced: list[str] = []
        for ticket_id, version in self.faces.wanted(now, self.faces_per_round):
            got = await self._fetch_face(ticket_id)
            if got is None:
                self.faces.not_found(ticket_id, version)
                continue
            if self.faces.put(ticket_id, got[0], got[1], now):
                replaced.append(ticket_id)
            else:
                fresh.append(ticket_id)
        dropped = self.faces.drop_unwanted(now)
        self.state.faces_fetched += len(fresh) + len(replaced)
        if (fresh or replaced or dropped) and self.on_faces is not None:
            await self.on_faces(fresh, replaced, dropped)
        return len(fresh) + len(replaced)

    async def _fetch_face(self, ticket_id: str) -> tuple[str, bytes] | None:
        """(version, JPEG) of a ticket's face, or None when the hub has none (any more)."""
        status, body, version = await self._call("GET", f"/faces/{ticket_id}", raw=True)
        if status == 404:
            return None
        try:
            inspect(body, max_bytes=len(body))
        except JpegError as exc:
            log.warning("face of ticket %s refused: %s", ticket_id, exc)
            return None
        if not version:
            log.warning("face of ticket %s came without X-Face-Version; ignored", ticket_id)
            return None
        return version, body

    async def push_log(self) -> int:
        """Upload unsynced decisions until none is left; returns rows sent.

        Two batches are in flight at once (the next one travels while the hub commits
        the previous). Each is marked synced only when its own 200 arrives; if one
        fails, the other's outcome still counts and the failure is raised."""
        sent = 0
        while True:
            first = self.store.unsynced(self.batch)
            if not first:
                return sent
            second = self.store.unsynced(self.batch, after=first[-1]["n"])
            batches = [b for b in (first, second) if b]
            results = await asyncio.gather(
                *(self._upload(b) for b in batches), return_exceptions=True
            )
            for rows, result in zip(batches, results, strict=True):
                if not isinstance(result, BaseException):
                    sent += len(rows)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def _upload(self, rows: Sequence[Any]) -> None:
        answer = await self._call(
            "POST",
            "/redemptions",
            json={"bridge": self.bridge_id, "redemptions": [upload_item(r) for r in rows]},
        )
        self.store.mark_synced(rows)
        self.state.uploaded += int(answer.get("recorded", 0))
        self.state.duplicates += int(answer.get("duplicates", 0))
        self.state.conflicts += len(answer.get("conflicts", []))

    async def sync_once(self) -> None:
        """Push then pull (so the hub's counts include ours before we read them back).

        One round at a time: a round asked for while the loop's own is running (staff's
        "sync now", a test) waits for it instead of pulling the same changes beside it —
        overlapping rounds pushed the same credentials to the devices twice."""
        async with self._round:
            await self._sync_round()

    async def _sync_round(self) -> None:
        started = time.perf_counter()
        try:
            if not self.store.meta("config"):
                await self.pull_config()
            if self.before_push is not None:
                await self.before_push()
            await self.push_log()
            await self.pull_ceiling()
            await self.pull_changes()
            if self.after_pull is not None:
                await self.after_pull()
            await self.pull_faces()
        except HubUnavailable as exc:
            self.state.failures += 1
            self.state.last_error = str(exc)
            self._set_online(False)
            raise
        self.state.round_trips += 1
        self.state.last_ok = self.clock.now()
        self.state.last_error = ""
        self._set_online(True)
        if self.on_round is not None:
            self.on_round(time.perf_counter() - started)
        await self.report_health()

    def _set_online(self, online: bool) -> None:
        if online != self.state.online:
            log.warning("bridge %s is now %s", self.bridge_id, "ONLINE" if online else "OFFLINE")
            self.state.history.append((self.clock.now().isoformat(), online))
            del self.state.history[:-50]
        self.state.online = online

    # -- the loop (`hardware_bridge.syncloop`) -----------------------------------------------
    def start(self, interval: float, config_every: float = 300.0) -> None:
        self.loop.start(interval, config_every)

    def wake(self) -> None:
        """Sync soon (a decision was logged): online, decisions reach the hub quickly;
        offline, the heartbeat decides when to try (a busy gate must not hammer a dead
        link)."""
        if self.state.online:
            self.loop.wake()

    def retry_now(self) -> None:
        """Skip the wait once (staff pressed "retry", or the network came back)."""
        self.loop.wake()

    async def stop(self) -> None:
        await self.loop.stop()


def upload_item(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "ticket_id": r["ticket_id"],
        "gate": r["gate"],
        "device": r["device"],
        "medium": r["medium"],
        "direction": r["direction"],
        "at": r["at"],
        "device_at": r["device_at"],
        "accepted": bool(r["allow"]),
        "code": r["code"],
        "kind": r["kind"],
        "offline": bool(r["offline"]),
        "staff": r["staff"],
        "note": r["note"],
        "part": r["part"],
    }


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def ids(rows: Sequence[Any]) -> list[str]:
    return [r["id"] for r in rows]
