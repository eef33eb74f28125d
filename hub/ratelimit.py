"""Token buckets for rate limits (partners' inbound calls, the stock push's budget of
calls to a partner).

`TokenBuckets` is per process: N hub processes allow N × the rate. It serves one
process alone (tests, plugins' own limits) and is part of the SDK's web helpers, so it
imports no storage. `hub.storage.shared_limits.SharedBuckets` keeps the buckets in the
hub's database, so N processes behind a load balancer allow the configured rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One bucket per key: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, timer: Callable[[], float] = time.monotonic) -> None:
        self.timer = timer
        self.buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, rate: float, burst: int) -> bool:
        """Take one token for ``key`` if there is one; never waits."""
        now = self.timer()
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = _Bucket(float(burst), now)
        b.tokens = min(float(burst), b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True
