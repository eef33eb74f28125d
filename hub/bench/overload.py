"""``tickethub bench orders --overload``: the hub under offered load far above capacity.

A peak-day burst (tens of thousands of visitors pressing "buy" in one minute) must not
turn into requests that queue until every client has given up. The hub's admission queue
(`hub.orders.writer`, ``TICKETHUB_ORDER_QUEUE_MAX``) sheds what it cannot take soon with
``503`` + ``Retry-After``; this bench shows what that gives, on loopback only:

1. fresh database, N hub processes, one slot with room for every order (no sell-out: the
   refusals measured are sheds, not 409s);
2. an unloaded reference: ``min(M, 3000)`` orders at concurrency 64 → ``unloaded_per_s``;
3. the burst: M orders from C clients (default 1,024) with short client timeouts
   (default 2 s) — each client sends its next order as soon as it has an answer, except
   that a client told ``503`` + ``Retry-After`` waits that long first (at most
   `RETRY_AFTER_CAP` seconds), as a browser or a partner's retry loop does; a client that
   retried at once would turn every shed order into more load;
4. ONE JSON line: ``offered``, ``accepted``, ``accepted_per_s`` (accepted ÷ seconds until
   the last acceptance), ``shed`` (503 BUSY), ``timeouts`` (no answer within the client
   timeout), ``p99_ms`` (accepted orders), ``p99_all_ms``, ``unloaded_per_s``,
   ``accepted_vs_unloaded`` and ``oversold`` (from the audit).

Bounded in count (M requests) and in time (``--timeout`` per phase).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url

from hub.bench.display import Display
from hub.bench.load import ACCEPTED, TIMEOUT, percentile
from hub.bench.orders import (
    HOT_SLOT,
    POOL,
    WARMUP_SLOT,
    BenchConfig,
    bench_days,
    fresh_database,
    hub_order,
    seed_catalog,
)
from hub.sdk.outcome import BUSY
from hub.testing.processes import HubAdmin, HubProcesses

UNLOADED_CONCURRENCY = 64
UNLOADED_MAX = 3000
DEFAULT_CONCURRENCY = 1024
DEFAULT_CLIENT_TIMEOUT = 2.0
RETRY_AFTER_CAP = 5.0


async def run_overload(cfg: BenchConfig, *, quiet: bool = False) -> dict[str, Any]:
    """The unloaded reference and the burst on the same hub processes (see module doc)."""
    show = Display(quiet)
    hot_day, ref_day = bench_days()
    run = uuid.uuid4().hex[:8]
    unloaded_n = min(cfg.orders, UNLOADED_MAX)
    with show.progress:
        async with fresh_database(cfg.db, cfg.pg_url) as url:
            show.log(f"[bold]database[/] {make_url(url).render_as_string(hide_password=True)}")
            async with HubProcesses(url, cfg.processes) as hubs, aiohttp.ClientSession() as http:
                admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
                await seed_catalog(admin)
                await admin.put_inventory(POOL, hot_day, hot_day, [(HOT_SLOT, cfg.orders)])
                await admin.put_inventory(
                    POOL, ref_day, ref_day, [(WARMUP_SLOT, cfg.warmup + unloaded_n)]
                )
                token = hubs.boxoffice_token
                reference = hub_order(token, ref_day, WARMUP_SLOT, f"r{run}")
                await show.load("hub warm-up", hubs.urls, reference, cfg.warmup, cfg)
                unloaded = await show.load(
                    "hub unloaded",
                    hubs.urls,
                    lambda i: reference(cfg.warmup + i),
                    unloaded_n,
                    replace(cfg, request_timeout=30.0),
                    UNLOADED_CONCURRENCY,
                )
                burst = await show.load(
                    "hub overload",
                    hubs.urls,
                    hub_order(token, hot_day, HOT_SLOT, f"o{run}"),
                    cfg.orders,
                    cfg,
                    honor_retry_after=RETRY_AFTER_CAP,
                )
                audit = await admin.audit(POOL, hot_day)
    accepted_lat = sorted(o.latency_ms for o in burst.outcomes if o.code == ACCEPTED)
    shed = sum(1 for o in burst.outcomes if o.code == BUSY)
    timeouts = burst.errors.get(TIMEOUT, 0)
    other = {k: v for k, v in burst.errors.items() if k not in (BUSY, TIMEOUT)}
    return {
        "db": cfg.db,
        "processes": cfg.processes,
        "overload": True,
        "concurrency": cfg.concurrency,
        "client_timeout_s": cfg.request_timeout,
        "offered": cfg.orders,
        "accepted": burst.accepted,
        "accepted_per_s": round(burst.accepted_per_s, 1),
        "shed": shed,
        "timeouts": timeouts,
        "p99_ms": round(percentile(accepted_lat, 99), 2),
        "p50_ms": round(percentile(accepted_lat, 50), 2),
        "p99_all_ms": round(burst.p99_ms, 2),
        "wall_s": round(burst.wall_s, 3),
        "unloaded_per_s": round(unloaded.accepted_per_s, 1),
        "unloaded_p99_ms": round(unloaded.p99_ms, 2),
        "accepted_vs_unloaded": round(burst.accepted_per_s / unloaded.accepted_per_s, 3)
        if unloaded.accepted_per_s
        else 0.0,
        "oversold": sum(int(s["oversold"]) for s in audit),
        "errors": other,
        "unloaded_errors": unloaded.errors,
    }
