"""What a sandbox OTA was told about stock, and the push limits it enforces.

Every sandbox OTA that takes stock pushes keeps one `StockBook`: each accepted push is
recorded per resource (the partner's product key), day and slot with its RECEIVE time,
so tests and ``tickethub bench stocksync`` can read what the partner shows and how late
it learnt it. The book refuses what the partner documents it would refuse: more than
``per_minute`` calls in any sliding minute overall, and a second update of one resource
within ``window_seconds`` (Ctrip: "同一资源更新频率大于1次/分钟"). The window is a parameter
so a benchmark need not wait a real minute; the timer is injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StockSeen:
    resource: str
    day: str
    slot: str
    quantity: int
    at: float  # wall-clock receive time (seconds since the epoch)


@dataclass
class StockBook:
    per_minute: int | None = None
    window_seconds: float = 0.0
    timer: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    seen: list[StockSeen] = field(default_factory=list)
    calls: int = 0
    refused: list[str] = field(default_factory=list)
    _minute: deque[float] = field(default_factory=deque)
    _last: dict[str, float] = field(default_factory=dict)

    def admit(self, resource: str) -> str | None:
        """Count one push of ``resource``; the reason it is refused, or None."""
        now = self.timer()
        while self._minute and now - self._minute[0] >= 60.0:
            self._minute.popleft()
        if self.per_minute is not None and len(self._minute) >= self.per_minute:
            why = f"over {self.per_minute} calls a minute"
        elif (
            self.window_seconds > 0
            and resource in self._last
            and now - self._last[resource] < self.window_seconds
        ):
            why = f"{resource} updated again within {self.window_seconds:g} s"
        else:
            self._minute.append(now)
            self._last[resource] = now
            self.calls += 1
            return None
        self.refused.append(why)
        return why

    def record(self, resource: str, rows: Iterable[tuple[str, str, int]]) -> None:
        at = self.wall()
        self.seen.extend(StockSeen(resource, day, slot, int(q), at) for day, slot, q in rows)

    def shows(self, resource: str, day: str, slot: str = "") -> int | None:
        """The latest quantity the partner holds for one resource, day and slot."""
        for s in reversed(self.seen):
            if s.resource == resource and s.day == day and s.slot == slot:
                return s.quantity
        return None

    def history(self, resource: str, day: str, slot: str = "") -> list[StockSeen]:
        return [s for s in self.seen if (s.resource, s.day, s.slot) == (resource, day, slot)]
