"""The link to the hub: config and ticket changes down by cursor, the log up by id.

Every step is resumable. Down: a page and the cursor after it are stored in one local
transaction, so an interruption re-reads at most one page. Up: a batch of unsynced log
rows is posted; the hub records each id once, so a batch that committed at the hub but
whose answer was lost is simply sent again and counted nothing twice; rows are marked
synced only after the hub's 200.

Online/offline is a fact this loop observes: any failed round trip (refused connection,
timeout, 5xx) turns the bridge offline and the loop retries with a capped backoff; the
first successful round trip turns it online again. Decisions never wait for this loop.

Face photos are not in the change pages: after the pages, the tickets whose face version
moved are fetched one by one (``/faces/{ticket_id}``, a bounded number per round), and
photos nobody wants any more are deleted (`hardware_bridge.faces`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from hardware_bridge.faces import Dropped, FaceCache
from hardware_bridge.store import BridgeStore
from hub.clock import Clock
from hub.faces.jpeg import JpegError, inspect

log = logging.getLogger(__name__)


FacesChanged = Callable[[list[str], list[str], list[Dropped]], Awaitable[None]]


class HubUnavailable(Exception):
    """The hub could not be reached or answered with a server error."""


@dataclass
class LinkState:
    online: bool = False
    last_ok: datetime | None = None
    last_error: str = ""
    hub_time_skew_s: float | None = None  # hub clock - bridge clock, from the config call
    uploaded: int = 0
    duplicates: int = 0
    conflicts: int = 0
    pulled: int = 0
    faces_fetched: int = 0
    round_trips: int = 0
    failures: int = 0
    history: list[tuple[str, bool]] = field(default_factory=list)  # (when, online) switches


class HubLink:
    def __init__(
        self,
        store: BridgeStore,
        http: aiohttp.ClientSession,
        clock: Clock,
        *,
        hub_url: str,
        venue_id: str,
        token: str,
        bridge_id: str,
        batch: int = 1000,
        page: int = 2000,
        timeout: float = 10.0,
        on_config: Callable[[dict[str, Any]], None] | None = None,
        on_tickets: Callable[[list[str]], Awaitable[None]] | None = None,
        on_faces: FacesChanged | None = None,
        faces_per_round: int = 100,
    ) -> None:
        self.store = store
        self.http = http
        self.clock = clock
        self.hub_url = hub_url.rstrip("/")
        self.venue_id = venue_id
        self.bridge_id = bridge_id
        self.batch = batch
        self.page = page
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.on_config = on_config
        self.on_tickets = on_tickets
        self.on_faces = on_faces
        self.faces = FaceCache(store)
        self.faces_per_round = faces_per_round
        self.state = LinkState()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def base(self) -> str:
        return f"{self.hub_url}/api/bridge/venues/{self.venue_id}"

    # -- one round trip ---------------------------------------------------------------------
    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            async with self.http.request(
                method, self.base + path, headers=self.headers, timeout=self.timeout, **kw
            ) as resp:
                body = await resp.json(content_type=None)
                if resp.status >= 500:
                    raise HubUnavailable(f"{method} {path}: hub answered {resp.status}")
                if resp.status != 200:
                    # a refusal (wrong token, bad request) is not an outage: say it loudly
                    raise HubUnavailable(f"{method} {path}: {resp.status} {body}")
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise HubUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    async def pull_config(self) -> dict[str, Any]:
        config = await self._call("GET", "/config")
        self.store.set_meta("config", _json(config))
        try:
            hub_now = datetime.fromisoformat(config["server_time"])
            self.state.hub_time_skew_s = (hub_now - self.clock.now()).total_seconds()
        except (KeyError, ValueError):
            pass
        if self.on_config is not None:
            self.on_config(config)
        return config

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
        path = f"/faces/{ticket_id}"
        try:
            async with self.http.get(
                self.base + path, headers=self.headers, timeout=self.timeout
            ) as resp:
                body = await resp.read()
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    raise HubUnavailable(f"GET {path}: hub answered {resp.status}")
                version = resp.headers.get("X-Face-Version", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise HubUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
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
        """Push then pull (so the hub's counts include ours before we read them back)."""
        try:
            if not self.store.meta("config"):
                await self.pull_config()
            await self.push_log()
            await self.pull_changes()
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

    def _set_online(self, online: bool) -> None:
        if online != self.state.online:
            log.warning("bridge %s is now %s", self.bridge_id, "ONLINE" if online else "OFFLINE")
            self.state.history.append((self.clock.now().isoformat(), online))
            del self.state.history[:-50]
        self.state.online = online

    # -- the loop ---------------------------------------------------------------------------
    def start(self, interval: float, config_every: float = 300.0) -> None:
        self._task = asyncio.create_task(self._run(interval, config_every), name="bridge-sync")

    def wake(self) -> None:
        """Sync soon (a decision was logged): online, decisions reach the hub quickly;
        offline, the backoff decides (a busy gate must not hammer a dead link)."""
        if self.state.online:
            self._wake.set()

    def retry_now(self) -> None:
        """Skip the backoff once (staff pressed "retry", or the network came back)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, interval: float, config_every: float) -> None:
        delay = interval
        since_config = 0.0  # `Bridge.start` read the config just before
        while True:
            try:
                await self.sync_once()  # decisions first: they matter more than config
                if since_config >= config_every:
                    await self.pull_config()
                    since_config = 0.0
                delay = interval
            except HubUnavailable as exc:
                log.info("hub unreachable: %s", exc)
                delay = min(max(delay * 2, interval), 30.0)
            except Exception:
                log.exception("sync round failed")
                delay = min(max(delay * 2, interval), 30.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            since_config += delay


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
    }


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def ids(rows: Sequence[Any]) -> list[str]:
    return [r["id"] for r in rows]
