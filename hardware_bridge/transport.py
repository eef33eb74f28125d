"""One call to the hub, with fail-over across its URLs; heartbeats and health reports.

The transport under `hardware_bridge.sync.HubLink`: a request goes through the active
URL, or — when that one cannot be reached (refused connection, timeout, 5xx) — through the
others in order of preference, and the first that answers becomes the active one
(`hardware_bridge.links`). A refusal (4xx) is a configuration problem, raised as
`HubRefused` and never hopped over. What the sync does with the answers (pages, uploads,
faces) is `hardware_bridge.sync`; when to call, `hardware_bridge.syncloop`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from hardware_bridge.links import Links
from hub.sdk import Clock

if TYPE_CHECKING:
    from hardware_bridge.sync import LinkState

log = logging.getLogger(__name__)


class HubUnavailable(Exception):
    """No hub URL could be reached, or the hub answered with a server error."""


class HubRefused(HubUnavailable):
    """The hub answered and refused (wrong token, unknown venue, bad request): a
    configuration problem to report, not an outage — the sync does not hop to another
    URL for it, the same request would be refused there too."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class HubTransport:
    """The round-trip half of `HubLink` (a mixin: it works on the link's URLs, HTTP
    session, clock, timeouts, headers and state)."""

    http: aiohttp.ClientSession
    clock: Clock
    links: Links
    venue_id: str
    bridge_id: str
    timeout: aiohttp.ClientTimeout
    heartbeat_timeout: aiohttp.ClientTimeout
    headers: dict[str, str]
    health: Callable[[], Awaitable[dict[str, Any]]] | None
    state: LinkState

    @property
    def path(self) -> str:
        """The venue's bridge API under every hub URL."""
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
