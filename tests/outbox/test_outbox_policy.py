"""The retry schedule is tenacity's: same numbers as its own strategy, growing, capped."""

from __future__ import annotations

import itertools

import pytest
import tenacity
from pydantic import ValidationError

from hub.outbox import DEFAULT_POLICY, RetryPolicy, adapter_policy, policies_from


def _tenacity_wait(strategy: tenacity.wait.wait_base, attempt: int) -> float:
    """Ask tenacity the way its own Retrying loop does."""
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return strategy(state)


def test_delays_match_tenacity_grow_and_respect_the_cap() -> None:
    policy = RetryPolicy(initial_seconds=0.5, multiplier=3, max_seconds=20, jitter_seconds=0)
    reference = tenacity.wait_exponential(multiplier=0.5, exp_base=3, max=20)
    delays = [policy.next_delay(n) for n in range(1, 12)]
    assert delays == [_tenacity_wait(reference, n) for n in range(1, 12)]
    assert delays[:4] == [0.5, 1.5, 4.5, 13.5]
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert delays[4:] == [20.0] * 7


def test_jitter_stays_within_its_band_and_under_the_cap() -> None:
    policy = RetryPolicy(initial_seconds=1, multiplier=2, max_seconds=10, jitter_seconds=0.5)
    for attempt in range(1, 8):
        base = min(2 ** (attempt - 1), 10)
        for _ in range(50):
            delay = policy.next_delay(attempt)
            assert base <= delay <= min(base + 0.5, 10)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert RetryPolicy(max_seconds=60, jitter_seconds=0).next_delay(10_000) == 60


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        DEFAULT_POLICY.next_delay(0)


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout_seconds": 0},
        {"multiplier": 0.5},
        {"initial_seconds": 10, "max_seconds": 5},
        {"max_attempts": 0},
        {"deadline_seconds": -1},
        {"unknown": 1},
    ],
)
def test_policies_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**bad)


def test_policies_are_frozen_data_loadable_from_specs() -> None:
    policy = RetryPolicy.model_validate({"timeout_seconds": 5, "max_attempts": 3})
    assert policy.gives_up_after(3) and not policy.gives_up_after(2)
    assert not DEFAULT_POLICY.gives_up_after(10_000)
    with pytest.raises(ValidationError):
        policy.timeout_seconds = 1  # type: ignore[misc]


def test_adapter_policy_falls_back_to_the_default() -> None:
    class Plain:
        name = "plain"

    class Strict:
        name = "strict"
        retry_policy = RetryPolicy(max_attempts=2)

    assert adapter_policy(Plain()) is DEFAULT_POLICY
    assert adapter_policy(None) is DEFAULT_POLICY
    adapters = {"strict": Strict(), "plain": Plain()}
    policy_for = policies_from(adapters.get)
    assert policy_for("strict").max_attempts == 2
    assert policy_for("plain") is DEFAULT_POLICY
    assert policy_for("missing") is DEFAULT_POLICY
