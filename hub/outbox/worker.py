"""The loop that lands queued partner calls.

Each round claims a batch with a lease (see `OutboxStore.claim`), delivers the calls
concurrently through their channel adapters and settles each one with a guarded update.
Any number of workers, in any number of processes, can run against one PostgreSQL: the
claim never hands one row to two live workers, and a worker that dies only delays its
calls until their lease runs out.

Delivery is at-least-once: a worker that crashes after the partner took a call but
before recording it sends that call again after the lease. Partners dedupe on the call's
key (every OTA protocol we speak has one), which turns that into exactly-once landing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.contracts import ChannelAdapter, DeliveryError
from hub.metrics import OUTBOX_DEAD, OUTBOX_DELIVERED, OUTBOX_FAILED
from hub.outbox.breaker import Breakers, BreakerState
from hub.outbox.policy import RetryPolicy, policy_of
from hub.outbox.store import ClaimedCall, OutboxStore
from hub.tasks import wait_event

log = logging.getLogger("hub.outbox")


class _Failure:
    """How one attempt failed. ``kind`` and ``exc_type`` are safe to log; ``text`` (which
    may quote the partner's answer or the payload) only goes to the row's last_error."""

    __slots__ = ("exc_type", "kind", "retryable", "text")

    def __init__(self, kind: str, exc: BaseException | None, text: str, retryable: bool) -> None:
        self.kind = kind
        self.exc_type = type(exc).__name__ if exc is not None else "-"
        self.text = text
        self.retryable = retryable


class OutboxWorker:
    """Claims, delivers and settles outbox calls; `start` runs it in the background.

    :param deliverer: partner name → its channel adapter, or ``None`` if unknown
        (typically ``plugins.channels.find``).
    :param policy_for: partner name → `RetryPolicy` (see `hub.outbox.policies_from`).
    :param worker_id: unique among live workers (e.g. ``"host:pid:n"``); it is the lease
        owner's name, so two workers sharing one would defeat the guards.
    :param lease_seconds: how long a claim is exclusive; must comfortably exceed the
        time a batch can spend queued behind the semaphore plus one attempt's timeout.
        A call whose lease is too short for its next attempt is handed back untried.
    :param breakers: per-partner circuit breakers (default: 5 failures, 30 s cooldown).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        deliverer: Callable[[str], ChannelAdapter | None],
        policy_for: Callable[[str], RetryPolicy],
        clock: Clock,
        worker_id: str,
        batch: int = 50,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60,
        concurrency: int = 16,
        breakers: Breakers | None = None,
    ) -> None:
        if batch < 1 or concurrency < 1:
            raise ValueError("batch and concurrency must be >= 1")
        self.engine = engine
        self.worker_id = worker_id
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.breakers = breakers if breakers is not None else Breakers(clock)
        self._deliverer = deliverer
        self._policy_for = policy_for
        self._clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- background loop ------------------------------------------------------------------
    def notify(self) -> None:
        """New calls were committed: claim now instead of at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Run the loop in a background task until `stop`."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=f"outbox-worker-{self.worker_id}")

    async def stop(self, *, grace_seconds: float | None = 10.0) -> None:
        """Stop claiming, let attempts under way finish (up to ``grace_seconds``, then
        cancel them) and hand calls not yet started back to the queue. A cancelled
        attempt's call stays inflight until its lease expires, then another worker
        retries it."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_seconds)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except Exception:
                # The database may be restarting; the rows are safe, try again later.
                log.exception("outbox worker %s: round failed", self.worker_id)
                claimed = 0
            if self._stopping:
                break
            if claimed >= self.batch:
                continue  # probably more due work: no need to wait
            await wait_event(self._wake, self.poll_seconds)

    # -- one round ------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim one batch, deliver it, settle every call; returns how many were claimed."""
        claimed = await OutboxStore.claim(
            self.engine,
            worker_id=self.worker_id,
            limit=self.batch,
            now=self._clock.now(),
            lease_seconds=self.lease_seconds,
        )
        if claimed:
            async with asyncio.TaskGroup() as group:
                for call in claimed:
                    group.create_task(self._guarded(call))
        return len(claimed)

    async def _guarded(self, claimed: ClaimedCall) -> None:
        """One bad call (a broken policy lookup, a database hiccup while settling) must
        not cancel its batch siblings: log it, and the lease brings the call back."""
        try:
            async with self._semaphore:
                await self._process(claimed)
        except Exception:
            log.exception(
                "outbox call %s (partner=%s kind=%s) could not be settled; its lease will "
                "bring it back",
                claimed.id,
                claimed.partner,
                claimed.kind,
            )

    async def _process(self, claimed: ClaimedCall) -> None:
        partner = claimed.partner
        now = self._clock.now()
        if self._stopping:
            await self._hand_back(claimed, now)
            return
        adapter = self._deliverer(partner)
        if adapter is None:
            await self._dead_untried(
                claimed, f"no channel adapter for partner {partner!r} (plugin missing or blocked)"
            )
            return
        if claimed.deadline_at is not None and now >= claimed.deadline_at:
            # No attempt starts after the deadline: the partner was down (its breaker
            # held the call) or no worker ran; either way a person decides now.
            state = self.breakers.get(partner).state
            why = "" if state is BreakerState.CLOSED else f" (partner's circuit breaker {state})"
            await self._dead_untried(claimed, f"deadline passed before it could be sent{why}")
            return
        policy = policy_of(self._policy_for, partner, claimed.kind)
        if now + timedelta(seconds=policy.timeout_seconds) > claimed.lease_until:
            # Our lease would run out mid-attempt and another worker could send it too.
            await self._hand_back(claimed, now)
            return
        breaker = await self.breakers.pull(partner)
        before = breaker.state
        allowed = breaker.allow()
        await self.breakers.push(breaker, before)
        if not allowed:
            held = self._hold_until(breaker.state, breaker.reopens_at)
            if claimed.deadline_at is not None:
                # back at its deadline at the latest, to be dead-lettered then, rather
                # than handed back round after round while the partner stays down
                held = min(held, claimed.deadline_at)
            await self._hand_back(claimed, held)
            return

        failure = await self._attempt(adapter, claimed, policy)
        now = self._clock.now()
        before = breaker.state
        if failure is None:
            breaker.record_success()
            await self.breakers.push(breaker, before)
            if await OutboxStore.mark_done(
                self.engine, claimed.id, worker_id=self.worker_id, now=now
            ):
                OUTBOX_DELIVERED.labels(partner).inc()
            else:
                log.warning("outbox call %s delivered but its lease was taken over", claimed.id)
            return
        if failure.retryable:
            breaker.record_failure()
        else:
            breaker.record_success()  # the partner answered; it just said no
        await self.breakers.push(breaker, before)
        await self._settle_failure(claimed, policy, failure, now)

    async def _attempt(
        self, adapter: ChannelAdapter, claimed: ClaimedCall, policy: RetryPolicy
    ) -> _Failure | None:
        """One delivery under the policy's timeout; every way it can fail becomes a
        `_Failure` (a plugin bug included), so the worker itself never falls over."""
        try:
            async with asyncio.timeout(policy.timeout_seconds):
                await adapter.deliver(claimed.call)
        except DeliveryError as exc:
            kind = "retryable" if exc.retryable else "refused"
            return _Failure(kind, exc, f"DeliveryError: {exc}", exc.retryable)
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            return _Failure(
                "timeout", exc, f"timed out after {policy.timeout_seconds:g} s", retryable=True
            )
        except (aiohttp.ClientError, OSError) as exc:
            return _Failure("network", exc, f"{type(exc).__name__}: {exc}", retryable=True)
        except Exception as exc:
            return _Failure("plugin_error", exc, f"{type(exc).__name__}: {exc}", retryable=True)
        return None

    async def _settle_failure(
        self, claimed: ClaimedCall, policy: RetryPolicy, failure: _Failure, now: datetime
    ) -> None:
        partner = claimed.partner
        attempt = claimed.attempts + 1
        OUTBOX_FAILED.labels(partner).inc()
        next_at = now + timedelta(seconds=policy.next_delay(attempt))
        if not failure.retryable:
            reason = "refused by partner"
        elif policy.gives_up_after(attempt):
            reason = f"gave up after {attempt} attempts"
        elif claimed.deadline_at is not None and next_at > claimed.deadline_at:
            reason = "deadline passed"
        else:
            reason = None
        log.warning(
            "outbox call %s failed: partner=%s kind=%s attempt=%d error=%s (%s)%s",
            claimed.id,
            partner,
            claimed.kind,
            attempt,
            failure.kind,
            failure.exc_type,
            f"; dead: {reason}" if reason else f"; retry at {next_at.isoformat()}",
        )
        if reason is None:
            await OutboxStore.mark_retry(
                self.engine,
                claimed.id,
                worker_id=self.worker_id,
                error=failure.text,
                next_at=next_at,
            )
            return
        if await OutboxStore.mark_dead(
            self.engine, claimed.id, worker_id=self.worker_id, error=f"{failure.text} [{reason}]"
        ):
            OUTBOX_DEAD.labels(partner).inc()

    async def _dead_untried(self, claimed: ClaimedCall, error: str) -> None:
        """Dead-letter a call without making an attempt (none is counted)."""
        if await OutboxStore.mark_dead(
            self.engine, claimed.id, worker_id=self.worker_id, error=error, count_attempt=False
        ):
            OUTBOX_DEAD.labels(claimed.partner).inc()
        log.error(
            "outbox call %s dead: partner=%s kind=%s: %s",
            claimed.id,
            claimed.partner,
            claimed.kind,
            error,
        )

    def _hold_until(self, state: BreakerState, reopens_at: datetime | None) -> datetime:
        """Where a call held by the breaker goes: the end of the cooldown while open;
        while a trial is out, the next poll (the trial usually settles quickly, and the
        backlog should not wait a whole cooldown after a partner recovers)."""
        now = self._clock.now()
        soon = now + timedelta(seconds=self.poll_seconds)
        if reopens_at is None:
            return soon
        if state is BreakerState.HALF_OPEN:
            return min(reopens_at, soon)
        return max(reopens_at, now)

    async def _hand_back(self, claimed: ClaimedCall, at: datetime) -> None:
        """Return a call untried: no attempt counted, previous error kept."""
        await OutboxStore.mark_retry(
            self.engine,
            claimed.id,
            worker_id=self.worker_id,
            error=None,
            next_at=at,
            count_attempt=False,
        )
