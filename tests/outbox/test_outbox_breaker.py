"""Circuit breaker: opens after N consecutive failures, one trial after the cooldown."""

from __future__ import annotations

from datetime import timedelta

from outbox_kit import T0
from prometheus_client import REGISTRY

from hub.clock import FixedClock
from hub.outbox import Breakers, BreakerState, CircuitBreaker


def _gauge(partner: str) -> float | None:
    return REGISTRY.get_sample_value("tickethub_outbox_breaker_open", {"partner": partner})


def test_opens_after_threshold_consecutive_failures() -> None:
    clock = FixedClock(T0)
    breaker = CircuitBreaker("b-open", clock=clock, failure_threshold=3, cooldown_seconds=30)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # not consecutive any more
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    assert breaker.reopens_at is None
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.reopens_at == T0 + timedelta(seconds=30)
    assert _gauge("b-open") == 1


def test_half_open_lets_one_trial_through_and_success_closes() -> None:
    clock = FixedClock(T0)
    breaker = CircuitBreaker("b-trial", clock=clock, failure_threshold=1, cooldown_seconds=10)
    breaker.record_failure()
    clock.advance(seconds=9.9)
    assert not breaker.allow()
    clock.advance(seconds=0.1)
    assert breaker.allow()  # the trial
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow() and not breaker.allow()  # everyone else waits
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    assert _gauge("b-trial") == 0


def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    clock = FixedClock(T0)
    breaker = CircuitBreaker("b-reopen", clock=clock, failure_threshold=2, cooldown_seconds=10)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(seconds=10)
    assert breaker.allow()
    clock.advance(seconds=1)
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.reopens_at == clock.now() + timedelta(seconds=10)
    assert not breaker.allow()
    assert _gauge("b-reopen") == 1


def test_late_failures_do_not_extend_an_open_breaker() -> None:
    clock = FixedClock(T0)
    breaker = CircuitBreaker("b-late", clock=clock, failure_threshold=1, cooldown_seconds=10)
    breaker.record_failure()
    clock.advance(seconds=5)
    breaker.record_failure()  # a call that was already under way
    assert breaker.reopens_at == T0 + timedelta(seconds=10)


def test_a_lost_trial_is_given_up_after_a_cooldown() -> None:
    """A worker that took the trial and vanished must not block the partner forever."""
    clock = FixedClock(T0)
    breaker = CircuitBreaker("b-lost", clock=clock, failure_threshold=1, cooldown_seconds=10)
    breaker.record_failure()
    clock.advance(seconds=10)
    assert breaker.allow()
    clock.advance(seconds=9)
    assert not breaker.allow()
    clock.advance(seconds=1)
    assert breaker.allow()


def test_breakers_are_per_partner() -> None:
    breakers = Breakers(FixedClock(T0), failure_threshold=1, cooldown_seconds=5)
    breakers.get("p-down").record_failure()
    assert not breakers.get("p-down").allow()
    assert breakers.get("p-up").allow()
    assert breakers.get("p-down") is breakers["p-down"]
    assert breakers.states() == {"p-down": BreakerState.OPEN, "p-up": BreakerState.CLOSED}
