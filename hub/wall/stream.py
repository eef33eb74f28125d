"""Live walls: one builder per watched venue per process, fanned out to every stream.

Fifty open walls must cost order intake nothing measurable, so the streams never read
the database themselves. Per venue that at least one stream watches, one task:

- wakes when a write path of THIS process says something changed (`WallFeed.touch`:
  the order service after a commit, the redemption recorder after an upload — setting
  an event, nothing more), or every ``poll_seconds`` to run the cheap `version` check,
  which sees what OTHER hub processes on the same database wrote;
- builds one snapshot (`hub.wall.snapshot.build`, counters only) and publishes it to all
  its streams when the figures differ from the last one — encoded once, as the bytes of
  one whole server-sent event (`Subscription.frame`) that every stream writes as is;
- then rests ``min_interval`` seconds, so a burst of a thousand orders is one or two
  snapshots, not a thousand (at most ``1 / min_interval`` events per second per stream).

The task stops when its last stream goes. Streams that open together (fifty walls
reconnecting after a restart, in the middle of a rush) share one first build.

A publish wakes each stream once: it waits on the watch's one `asyncio.Future` of the
next publish (no lock to take in turn, no task per event); nothing wakes a stream when
nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.db import reader
from hub.tasks import cancel_and_wait, wait_event
from hub.wall import snapshot

log = logging.getLogger(__name__)


class UnknownVenue(LookupError):
    """No venue of that id."""


class FeedClosed(RuntimeError):
    """The hub is shutting down: streams end (clients reconnect to another process)."""


class _Watch:
    def __init__(self, feed: WallFeed, venue_id: str) -> None:
        self.feed = feed
        self.venue_id = venue_id
        self.streams = 0
        self.kick = asyncio.Event()
        # resolved (and replaced) at each publish and at close: what the streams wait on
        self.published: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.first = asyncio.Lock()  # streams opening together share the first build
        self.seq = 0
        self.latest: dict[str, Any] | None = None
        self.latest_frame = b""  # the SSE event, encoded once, written by every stream
        self.closed = False
        self._figures: Any = None
        self._version: Any = None
        self._zone = snapshot.zone("Asia/Shanghai")  # the venue's, from its last snapshot
        self.task: asyncio.Task[None] | None = None

    async def refresh(self, *, check_version: bool) -> bool:
        """Build and publish a snapshot — with ``check_version`` only if the counters
        moved since the last one. True when a new snapshot went out."""
        now = self.feed.now()
        day = now.astimezone(self._zone).date()
        async with reader(self.feed.engine).connect() as conn:
            current = await snapshot.version(conn, self.venue_id, day)
            if current is None:
                raise UnknownVenue(self.venue_id)
            if check_version and (day, current) == self._version:
                return False
            built = await snapshot.build(conn, self.venue_id, now, devices=self.feed.devices)
        if built is None:
            raise UnknownVenue(self.venue_id)
        # the version of the day the snapshot shows: a new zone or a new day rebuilds
        self._zone = snapshot.zone(built["venue"]["timezone"])
        self._version = (date.fromisoformat(built["day"]), current)
        figures = {k: v for k, v in built.items() if k != "at"}
        if figures == self._figures and self.latest is not None:
            return False
        self._figures = figures
        self.seq += 1
        # compact JSON holds no newline, so the snapshot is one ``data:`` line
        self.latest_frame = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (
            self.seq,
            orjson.dumps(built),
        )
        self.latest = built
        self._wake()
        return True

    def _wake(self) -> None:
        """Wake every stream waiting for the next publish (once each)."""
        done, self.published = self.published, asyncio.get_running_loop().create_future()
        done.set_result(None)

    def close(self) -> None:
        self.closed = True
        self._wake()

    async def run(self) -> None:
        poll, rest = self.feed.poll_seconds, self.feed.min_interval
        clock = asyncio.get_running_loop().time
        due = clock() + poll  # the next version check, counted from the last one
        while True:
            kicked = await wait_event(self.kick, due - clock())
            self.kick.clear()
            published = False
            try:
                published = await self.refresh(check_version=not kicked)
            except UnknownVenue:
                pass  # the streams already got their answer; the venue may come later
            except Exception:
                log.exception("flow wall of %s: snapshot failed; retrying", self.venue_id)
            due = clock() + poll
            if published and rest:
                await asyncio.sleep(rest)  # what happens meanwhile goes in the next one


class Subscription:
    """One stream's view of a venue's snapshots."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch
        self.seen = 0
        self.frame = b""  # the last snapshot `take` returned, as a whole SSE event

    @property
    def pending(self) -> bool:
        """A snapshot this stream has not had is there (or the feed closed)."""
        w = self._watch
        return w.closed or (w.seq > self.seen and w.latest is not None)

    async def wait(self, stop: asyncio.Future[Any] | None = None) -> bool:
        """Until `pending` — False if ``stop`` finished first. Waits on the shared
        publish future without cancelling it, so one stream going away never disturbs
        the others."""
        while not self.pending:
            if stop is not None and stop.done():
                return False
            waiting: set[asyncio.Future[Any]] = {self._watch.published}
            if stop is not None:
                waiting.add(stop)
            await asyncio.wait(waiting, return_when=FIRST_COMPLETED)
        return True

    def take(self) -> dict[str, Any]:
        """The newest snapshot, now had (`FeedClosed` once the hub is stopping)."""
        w = self._watch
        if w.closed:
            raise FeedClosed(w.venue_id)
        assert w.latest is not None
        self.seen = w.seq
        self.frame = w.latest_frame
        return w.latest

    async def next(self) -> dict[str, Any]:
        """The next snapshot this stream has not had (waits for one)."""
        await self.wait()
        return self.take()


class WallFeed:
    """This process's live walls (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        now: Callable[[], datetime],
        *,
        poll_seconds: float = 0.5,
        min_interval: float = 0.5,
        devices: snapshot.DeviceSource = snapshot.device_rows,
    ) -> None:
        self.engine = engine
        self.now = now
        self.poll_seconds = poll_seconds
        self.min_interval = min_interval
        self.devices = devices
        self._watches: dict[str, _Watch] = {}

    def touch(self, venue_id: str | None = None) -> None:
        """Something of ``venue_id`` (None: of any venue) was just committed. Call on
        the application's event loop; costs an event set, no database work."""
        if venue_id is None:
            for w in self._watches.values():
                w.kick.set()
        elif (w := self._watches.get(venue_id)) is not None:
            w.kick.set()

    @property
    def watched(self) -> dict[str, int]:
        """venue → open streams."""
        return {v: w.streams for v, w in self._watches.items()}

    async def snapshot(self, venue_id: str) -> dict[str, Any] | None:
        """The venue's wall now, built afresh (the JSON route and the console page)."""
        async with reader(self.engine).connect() as conn:
            return await snapshot.build(conn, venue_id, self.now(), devices=self.devices)

    @contextlib.asynccontextmanager
    async def subscribe(self, venue_id: str) -> AsyncIterator[Subscription]:
        """Watch a venue while the block runs; the first `Subscription.next` answers at
        once with a current snapshot. `UnknownVenue` when there is no such venue."""
        watch = self._watches.get(venue_id)
        if watch is None:
            watch = self._watches[venue_id] = _Watch(self, venue_id)
        watch.streams += 1
        try:
            async with watch.first:  # the first of streams opening together builds
                if watch.latest is None:
                    await watch.refresh(check_version=False)
            if watch.task is None:
                watch.task = asyncio.create_task(watch.run(), name=f"wall-{venue_id}")
            yield Subscription(watch)
        finally:
            watch.streams -= 1
            if watch.streams == 0:
                self._watches.pop(venue_id, None)
                await cancel_and_wait(watch.task)

    async def close(self) -> None:
        """Stop the builders and end every stream (the app's shutdown: open streams
        would otherwise hold the server's graceful shutdown until its timeout)."""
        for watch in list(self._watches.values()):
            await cancel_and_wait(watch.task)
            watch.task = None
            watch.close()
