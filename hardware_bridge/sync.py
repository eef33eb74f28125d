"""The link to the hub: config and ticket changes down by cursor, the log up by id.

Every step is resumable. Down: a page and the cursor after it are stored in one local
transaction, so an interruption re-reads at most one page. Up: a batch of unsynced log
rows is posted; the hub records each id once, so a batch that committed at the hub but
whose answer was lost is simply sent again and counted nothing twice; rows are marked
synced only after the hub's 200.

Several hub URLs may be configured (`hardware_bridge.links`): a call that cannot reach
the active one (refused connection, timeout, 5xx) is tried on the others in order of
preference and the first that answers becomes the active one (fail-over); a refusal (4xx)
is a configuration problem, reported and never hopped over. Online/offline is a fact
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
from hub.sdk import Clock
from hub.sdk.jpeg import JpegError, inspect

log = logging.getLogger(__name__)


FacesChanged = Callable[[list[str], list[str], list[Dropped]], Awaitable[None]]


class HubUnavailable(Exception):
    """No hub URL could be reached, or the hub answered with a server error."""


class HubRefused(HubUnavailable):
    """The hub answered and refused (wrong token, unknown venue, bad request): a
    configuration problem to report, not an outage — the sync does not hop to another
    URL for it, the same request would be refused there too."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


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


class HubLink:
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

    @property
    def path(self) -> str:
        return f"/api/bridge/venues/{self.venue_id}"

    # -- one round trip, through the active URL or the next that answers --------------------
    async def _call(self, method: str, path: str, *, raw: bool = False, **kw: Any) -> Any:
        """One call; when the active URL cannot be reached (refused, timeout, 5xx) the
        others are tried in order of preference and the first that answers becomes the
        active one. A refusal (4xx) is raised as it is: no hop."""
        first = self.links.active
        failure: HubUnavailable | None = None
        for index in [first, *self.links.others(first)]:
            try:
                result = await self._once(
                    self.links.urls[index].url, method, path, self.timeout, raw=raw, **kw
                )
            except HubRefused as exc:
                self.links.failed(index, self.clock.now(), str(exc))
                raise
            except HubUnavailable as exc:
                self.links.failed(index, self.clock.now(), str(exc))
                failure = failure or exc
                continue
            self.links.ok(index, self.clock.now())
            if failure is not None:
                self.links.switch(index, self.clock.now(), str(failure))
            return result
        assert failure is not None
        raise failure

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        """One JSON call under the venue's bridge path, with fail-over (`_call`)."""
        return await self._call(method, path, **kw)

    async def _once(
        self,
        url: str,
        method: str,
        path: str,
        timeout: aiohttp.ClientTimeout,
        *,
        raw: bool = False,
        **kw: Any,
    ) -> Any:
        """One request to one URL: the JSON answer, or ``(status, bytes, face version)``
        when `raw` (a 404 is then an answer: no such photo)."""
        try:
            async with self.http.request(
                method, url + self.path + path, headers=self.headers, timeout=timeout, **kw
            ) as resp:
                data = await resp.read()
                if resp.status >= 500 or resp.status in (408, 429):
                    raise HubUnavailable(f"{method} {path}: hub answered {resp.status}")
                if raw and resp.status in (200, 404):
                    return resp.status, data, resp.headers.get("X-Face-Version", "")
                if resp.status != 200:
                    # a refusal (wrong token, bad request) is not an outage: say it loudly
                    text = data[:300].decode("utf-8", "replace")
                    raise HubRefused(
                        f"{method} {url}{path}: refused {resp.status} {text}", resp.status
                    )
                return data if raw else json.loads(data)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise HubUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    async def heartbeat(self, index: int) -> str:
        """A light call to one URL (no database work at the hub), with the bridge's clock:
        ``up``, ``down`` or ``refused``. Probes a link without moving real traffic."""
        url = self.links.urls[index].url
        body = await self._heartbeat_body()
        now = self.clock.now()
        try:
            answer = await self._once(url, "POST", "/heartbeat", self.heartbeat_timeout, json=body)
        except HubRefused as exc:
            if exc.status in (404, 405):
                # a hub from before heartbeats: it answered, so the link works
                self.links.ok(index, now)
                return "up"
            self.links.failed(index, now, str(exc))
            return "refused"
        except HubUnavailable as exc:
            self.links.failed(index, now, str(exc))
            return "down"
        self.links.ok(index, self.clock.now())
        self.state.heartbeats += 1
        self._skew(answer)
        return "up"

    async def _heartbeat_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"bridge": self.bridge_id}
        if self.health is not None:
            try:
                body |= await self.health()
            except Exception:  # the report is a bonus: never the reason a heartbeat fails
                log.exception("health report failed; heartbeat without it")
        body["at"] = self.clock.now().isoformat()
        return body

    async def report_health(self) -> bool:
        """The health report after a sync round, through the URL the round used (a
        heartbeat: the hub stores it and answers its clock). Not a probe: the link's
        bookkeeping and the heartbeat count stay as the round left them, and a failure
        only loses this report — the next round sends another."""
        if self.health is None:
            return False
        body = await self._heartbeat_body()
        try:
            answer = await self._once(
                self.links.url, "POST", "/heartbeat", self.heartbeat_timeout, json=body
            )
        except HubUnavailable as exc:
            log.debug("health report not taken: %s", exc)
            return False
        self.state.health_reports += 1
        self._skew(answer)
        return True

    def _skew(self, answer: dict[str, Any]) -> None:
        try:
            hub_now = datetime.fromisoformat(answer["server_time"])
            self.state.hub_time_skew_s = (hub_now - self.clock.now()).total_seconds()
        except (KeyError, TypeError, ValueError):
            pass

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
