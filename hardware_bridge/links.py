"""The bridge's hub URLs (the venue line, a 4G router…), in order of preference, and
which one it syncs through.

Why a separate object: the sync code should not care how many ways lead to the hub. It
asks `Links` for the active URL, reports each call's outcome, and `Links` remembers, per
URL, the last success and failure (what staff read in ``tickethub bridge status``) and
logs one line on every switch, so an outage report can say when the backup took over and
when the venue line came back.

Every URL must lead to the same hub database (one hub behind two network paths, or hub
processes on one database): a decision uploaded through either is recorded once by its
id, so a switch in the middle of an upload re-sends at most a batch and counts nothing
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class UrlState:
    """What the bridge last saw of one URL."""

    url: str
    last_ok: datetime | None = None
    last_failure: datetime | None = None
    last_error: str = ""
    ok_streak: int = 0  # successes in a row (fail-back waits for `failback_after`)
    failures: int = 0

    def as_dict(self, index: int, active: bool) -> dict[str, Any]:
        return {
            "index": index,
            "url": self.url,
            "active": active,
            "last_ok": _iso(self.last_ok),
            "last_failure": _iso(self.last_failure),
            "last_error": self.last_error,
            "failures": self.failures,
        }


class Links:
    """The hub URLs in order of preference and the active one (index 0 = preferred)."""

    def __init__(self, urls: Sequence[str], bridge_id: str = "") -> None:
        cleaned = [u.rstrip("/") for u in urls if u.strip()]
        if not cleaned:
            raise ValueError("a bridge needs at least one hub URL")
        self.urls = [UrlState(u) for u in cleaned]
        self.active = 0
        self.bridge_id = bridge_id
        self.switches: list[dict[str, Any]] = []  # the last 50, for the status page

    def __len__(self) -> int:
        return len(self.urls)

    @property
    def url(self) -> str:
        return self.urls[self.active].url

    def set_url(self, index: int, url: str) -> None:
        """Point one entry elsewhere (benches and tests move a link by hand)."""
        self.urls[index] = UrlState(url.rstrip("/"))

    def ok(self, index: int, at: datetime) -> None:
        s = self.urls[index]
        s.last_ok = at
        s.ok_streak += 1

    def failed(self, index: int, at: datetime, why: str) -> None:
        s = self.urls[index]
        s.last_failure = at
        s.last_error = why
        s.ok_streak = 0
        s.failures += 1

    def others(self, index: int) -> list[int]:
        """The URLs to try after `index` failed, in order of preference."""
        return [i for i in range(len(self.urls)) if i != index]

    def switch(self, index: int, at: datetime, why: str) -> bool:
        """Make `index` the active URL; one log line when that changes anything."""
        if index == self.active:
            return False
        before = self.active
        self.active = index
        kind = "fail-back" if index < before else "fail-over"
        log.warning(
            "bridge %s link %s: now syncing through #%d %s (was #%d %s): %s",
            self.bridge_id,
            kind,
            index,
            self.urls[index].url,
            before,
            self.urls[before].url,
            why,
        )
        self.switches.append(
            {"at": at.isoformat(), "kind": kind, "from": before, "to": index, "why": why[:200]}
        )
        del self.switches[:-50]
        return True

    def status(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "active_url": self.url,
            "urls": [s.as_dict(i, i == self.active) for i, s in enumerate(self.urls)],
            "switches": list(self.switches),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
