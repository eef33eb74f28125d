"""A bounded HTTP load generator: M requests, C at a time, round-robin over base URLs.

Definitions (the README's Benchmarks section repeats them):

* latency — from just before the request is written until its whole body has been read,
  measured in the client; p50/p99 are nearest-rank percentiles over ALL requests
  (accepted, sold out and failed alike).
* ``accepted_per_s`` — accepted requests ÷ the time from the start of the run until the
  completion of the LAST accepted request. Once the stock is gone the remaining requests are
  cheap 409 answers; counting the whole run would let them dilute (or, with a fast 409
  path, flatter) the figure, so the clock for throughput stops at the last sale.

The run is bounded twice: each request has its own timeout, and the whole run has a global
deadline after which unfinished requests are abandoned and counted as ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

ACCEPTED = "ACCEPTED"
SOLD_OUT = "SOLD_OUT"
TIMEOUT = "TIMEOUT"


@dataclass(frozen=True, slots=True)
class Request:
    """One request to send; `path` is joined to the base URL picked round-robin."""

    path: str
    json: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to request number `index`."""

    index: int
    url: str
    status: int  # 0 when no HTTP answer arrived
    code: str  # ACCEPTED, SOLD_OUT, the answer's "code", or an exception name
    latency_ms: float
    done_at: float  # seconds since the start of the run
    body: Any = None
    retry_after: float | None = None  # seconds the server asked for (503 Retry-After)


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    completed: int
    accepted: int
    sold_out: int
    other: int
    errors: dict[str, int]
    wall_s: float
    accepted_wall_s: float
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    timed_out: bool
    outcomes: list[Outcome]

    def summary(self) -> dict[str, Any]:
        """The figures without the per-request list (for JSON output)."""
        return {
            "requests": self.requests,
            "completed": self.completed,
            "accepted": self.accepted,
            "sold_out": self.sold_out,
            "other": self.other,
            "errors": self.errors,
            "wall_s": round(self.wall_s, 4),
            "accepted_wall_s": round(self.accepted_wall_s, 4),
            "accepted_per_s": round(self.accepted_per_s, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "timed_out": self.timed_out,
        }


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def classify(status: int, body: Any) -> str:
    """201 is a sale; 409 with code SOLD_OUT a clean refusal; anything else is reported
    by the code the server gave (or ``HTTP_<status>`` when it gave none)."""
    if status == 201:
        return ACCEPTED
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and code:
        return code
    return f"HTTP_{status}"


async def run_load(
    urls: Sequence[str],
    make_request: Callable[[int], Request],
    *,
    total: int,
    concurrency: int,
    request_timeout: float = 30.0,
    run_timeout: float = 300.0,
    keep_bodies: bool = False,
    honor_retry_after: float = 0.0,
    on_done: Callable[[Outcome], None] | None = None,
) -> LoadResult:
    """Send `total` requests, `concurrency` at a time; request ``i`` goes to
    ``urls[i % len(urls)]``. Returns when every request finished or `run_timeout` passed.

    `make_request(i)` builds request ``i`` (give each a distinct Idempotency-Key);
    `on_done` is called after each request (progress display). With
    `honor_retry_after` > 0 a client told ``Retry-After`` waits that long (at most this
    many seconds) before its next request, as a browser or a partner would; otherwise it
    sends its next request at once."""
    if not urls:
        raise ValueError("no URLs to send to")
    if total < 0 or concurrency < 1:
        raise ValueError("total must be >= 0 and concurrency >= 1")
    bases = [u.rstrip("/") for u in urls]
    outcomes: list[Outcome] = []
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)

    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as http:
        start = time.perf_counter()

        async def one(i: int) -> Outcome:
            req = make_request(i)
            url = bases[i % len(bases)]
            body: Any = None
            retry_after: float | None = None
            t0 = time.perf_counter()
            try:
                async with http.request(
                    req.method, url + req.path, json=req.json, headers=dict(req.headers)
                ) as resp:
                    status = resp.status
                    retry_after = _seconds(resp.headers.get("Retry-After"))
                    raw = await resp.read()
                t1 = time.perf_counter()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")[:200]
                code = classify(status, body)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                t1 = time.perf_counter()
                # every way of giving up waiting (aiohttp has several) is one TIMEOUT
                status, code = 0, TIMEOUT if isinstance(exc, TimeoutError) else type(exc).__name__
            return Outcome(
                index=i,
                url=url,
                status=status,
                code=code,
                latency_ms=(t1 - t0) * 1000.0,
                done_at=t1 - start,
                body=body if keep_bodies else None,
                retry_after=retry_after,
            )

        async def worker() -> None:
            nonlocal next_index
            while next_index < total:
                i = next_index
                next_index += 1
                outcome = await one(i)
                outcomes.append(outcome)
                if on_done is not None:
                    on_done(outcome)
                if honor_retry_after > 0 and outcome.retry_after:
                    await asyncio.sleep(min(outcome.retry_after, honor_retry_after))

        timed_out = False
        tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, max(total, 1)))]
        try:
            async with asyncio.timeout(run_timeout):
                await asyncio.gather(*tasks)
        except TimeoutError:
            timed_out = True
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.perf_counter() - start

    return summarize(outcomes, total=total, wall_s=wall, timed_out=timed_out)


def _seconds(header: str | None) -> float | None:
    """A ``Retry-After`` given in seconds (an HTTP date or garbage: None)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def summarize(
    outcomes: Sequence[Outcome], *, total: int, wall_s: float, timed_out: bool
) -> LoadResult:
    """Turn per-request outcomes into the figures (see the module docstring)."""
    codes = Counter(o.code for o in outcomes)
    missing = total - len(outcomes)
    if missing:
        codes[TIMEOUT] += missing
    accepted = codes.get(ACCEPTED, 0)
    sold_out = codes.get(SOLD_OUT, 0)
    errors = {k: v for k, v in sorted(codes.items()) if k not in (ACCEPTED, SOLD_OUT)}
    accepted_wall = max((o.done_at for o in outcomes if o.code == ACCEPTED), default=0.0)
    latencies = sorted(o.latency_ms for o in outcomes)
    return LoadResult(
        requests=total,
        completed=len(outcomes),
        accepted=accepted,
        sold_out=sold_out,
        other=sum(errors.values()),
        errors=errors,
        wall_s=wall_s,
        accepted_wall_s=accepted_wall,
        accepted_per_s=accepted / accepted_wall if accepted_wall > 0 else 0.0,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        timed_out=timed_out,
        outcomes=sorted(outcomes, key=lambda o: o.index),
    )
