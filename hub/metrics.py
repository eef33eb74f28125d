"""Prometheus metrics of the hub, defined once per process (the client's registry is
process-wide), labelled so several applications in one process (tests) can share them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ORDERS = Counter("tickethub_orders_total", "Order intake outcomes", ["channel", "outcome"])
ORDER_LATENCY = Histogram(
    "tickethub_order_seconds",
    "Time from intake to durable answer",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
BATCH_SIZE = Histogram(
    "tickethub_order_batch_size",
    "Orders committed together (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
HOLDS_EXPIRED = Counter("tickethub_holds_expired_total", "Holds released by expiry")
HTTP_ERRORS = Counter("tickethub_http_errors_total", "Error answers", ["code"])
OUTBOX_DELIVERED = Counter("tickethub_outbox_delivered_total", "Partner calls landed", ["partner"])
OUTBOX_FAILED = Counter("tickethub_outbox_failed_attempts_total", "Failed attempts", ["partner"])
OUTBOX_DEAD = Counter("tickethub_outbox_dead_total", "Calls dead-lettered", ["partner"])
OUTBOX_BREAKER = Gauge(
    "tickethub_outbox_breaker_open", "1 while a partner's circuit breaker is open", ["partner"]
)

# venue bridges (hub.redemptions)
REDEMPTIONS = Counter(
    "tickethub_redemptions_total", "Gate decisions uploaded by bridges", ["venue", "outcome"]
)
REDEMPTION_CONFLICTS = Counter(
    "tickethub_redemption_conflicts_total",
    "Admissions that could not count (used beyond entries at offline bridges, refunded)",
    ["venue"],
)
IN_PARK = Gauge("tickethub_in_park", "Visitors inside today (entries - exits)", ["venue"])

# every HTTP request, by the route's canonical path ("/api/orders/{order_id}"), never the
# raw URL: ids in paths would make a new series per order
HTTP_REQUESTS = Counter(
    "tickethub_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tickethub_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# read from the database when /metrics is scraped (hub.gauges), so every hub agrees
OUTBOX_BACKLOG = Gauge(
    "tickethub_outbox_backlog",
    "Partner calls not delivered yet (pending, inflight) or waiting for a person (dead)",
    ["partner", "state"],
)
# day-end reconciliation: discrepancies nobody has looked at yet (state "open", what the
# alert kind ``reconcile_discrepancies`` counts), read from the database like the backlog
RECONCILE_OPEN = Gauge(
    "tickethub_reconcile_open_discrepancies",
    "Reconciliation discrepancies neither acknowledged nor resolved",
    ["channel"],
)
