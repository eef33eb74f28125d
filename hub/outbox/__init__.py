"""The durable outbox of partner calls: queued in the transaction that causes them,
delivered by workers that share the table safely, retried on each partner's schedule
until they land or a person has to look (dead letters, `tickethub outbox`)."""

from __future__ import annotations

from hub.outbox.breaker import Breakers, BreakerState, CircuitBreaker
from hub.outbox.policy import (
    DEFAULT_POLICY,
    PolicyLookup,
    RetryPolicy,
    adapter_policy,
    policies_from,
    policy_of,
)
from hub.outbox.service import Outbox, new_worker_id
from hub.outbox.store import STATES, ClaimedCall, OutboxEntry, OutboxStore
from hub.outbox.worker import OutboxWorker

__all__ = [
    "DEFAULT_POLICY",
    "STATES",
    "BreakerState",
    "Breakers",
    "CircuitBreaker",
    "ClaimedCall",
    "Outbox",
    "OutboxEntry",
    "OutboxStore",
    "OutboxWorker",
    "PolicyLookup",
    "RetryPolicy",
    "adapter_policy",
    "new_worker_id",
    "policies_from",
    "policy_of",
]
