"""Every day by itself: after ``run_after`` (10:00 by default, in ``timezone``: the venue's
and WeChat's day), fetch yesterday's statement of every channel that can fetch its own
(`hub.contracts.StatementSource`: WeChat Pay's trade bill), import and match it, and
have the alert rules look at once (kind ``reconcile_discrepancies``).

Several hub processes run this loop against one database; each (source, day) is claimed
once (`hub.reconcile.claims`), so the bill is fetched and imported by one of them. A bill
that is not there yet (WeChat still writing it, WeChat unreachable) gives the day back for
the next round; a day without transactions (WeChat keeps no bill of it) and a bill that
cannot be read end the day's claim with that outcome, in the claim row and the log.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.contracts import StatementSource, StatementUnavailable
from hub.reconcile import claims
from hub.reconcile.service import UnsupportedChannel, import_statement
from hub.reconcile.wechat_bill import BillError
from hub.tasks import Periodic

log = logging.getLogger("hub.reconcile")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one (source, day) run did — in this process, which won its claim."""

    job: str
    day: str
    outcome: str  # done | none | failed | retry
    detail: str
    new: int = 0  # discrepancies not on record before


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DailyReconcile:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        sources: Callable[[], Sequence[StatementSource]],
        timezone: str = "Asia/Shanghai",
        run_after: time = time(10),
        every_seconds: float = 300.0,
        after_import: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.sources = sources
        self.zone = ZoneInfo(timezone)
        self.run_after = run_after
        self.every_seconds = every_seconds
        self.after_import = after_import
        self.by = worker_id()
        self._loop = Periodic("daily-reconcile", every_seconds, self.run_due, log)

    def due_day(self, now: datetime) -> date | None:
        """Yesterday in the configured zone, once `run_after` has passed today."""
        local = now.astimezone(self.zone)
        if local.time() < self.run_after:
            return None
        return local.date() - timedelta(days=1)

    async def run_due(self, now: datetime | None = None) -> list[Outcome]:
        """One round: yesterday's statements, if it is time and nobody took them yet."""
        now = now or self.clock.now()
        day = self.due_day(now)
        if day is None:
            return []
        done: list[Outcome] = []
        for source in self.sources():
            job = f"reconcile.{source.name}"
            claim_id = await claims.claim(self.engine, job, day, by=self.by, now=now)
            if claim_id is None:
                continue
            outcome = await fetch_and_import(self.engine, source, day, now, by="scheduler")
            if outcome.outcome == "retry":
                await claims.release(self.engine, claim_id)
            else:
                await claims.finish(
                    self.engine, claim_id, outcome.outcome, outcome.detail, now=self.clock.now()
                )
            done.append(outcome)
        if any(o.outcome == "done" for o in done) and self.after_import is not None:
            await self.after_import()
        return done

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


async def fetch_and_import(
    engine: AsyncEngine, source: StatementSource, day: date, now: datetime, *, by: str
) -> Outcome:
    """Fetch `source`'s statement of `day`, import and match it (one transaction: a
    refused statement leaves nothing). Never raises for the partner's or the file's
    faults: the outcome says what happened (``retry`` when it may work later)."""
    job, iso = f"reconcile.{source.name}", day.isoformat()
    try:
        statement = await source.fetch_statement(day)
    except StatementUnavailable as exc:
        if exc.retryable:
            log.info("%s %s: not yet (%s)", job, iso, exc)
            return Outcome(job, iso, "retry", str(exc))
        if exc.empty:
            log.info("%s %s: no statement (no transactions that day)", job, iso)
            return Outcome(job, iso, "none", str(exc))
        log.error("%s %s: cannot fetch the statement: %s", job, iso, exc)
        return Outcome(job, iso, "failed", str(exc))
    try:
        imported = await import_statement(
            engine,
            channel=source.name,
            day=statement.day,
            raw=statement.raw,
            merchant=statement.merchant,
            by=by,
            now=now,
        )
    except (BillError, UnsupportedChannel) as exc:
        log.error("%s %s: statement refused, nothing imported: %s", job, iso, exc)
        return Outcome(job, iso, "failed", f"statement refused: {exc}")
    if imported.found:
        log.warning(
            "%s %s: %d discrepancies (%d new) in %d lines",
            job,
            iso,
            imported.found,
            imported.new,
            imported.lines,
        )
    else:
        log.info("%s %s: %d lines, no discrepancy", job, iso, imported.lines)
    return Outcome(job, iso, "done", json.dumps(imported.as_dict()), imported.new)
