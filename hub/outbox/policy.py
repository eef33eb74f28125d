"""How hard the outbox tries to land one partner call: per-attempt timeout, backoff
schedule, deadline, attempt cap.

Partners differ (Ctrip wants a confirmation before ``lastConfirmTime``, Douyin retries
create-order a minute apart), so a policy is data a channel adapter can carry as a
``retry_policy`` attribute; the hub falls back to `DEFAULT_POLICY`. The backoff itself is
tenacity's, so the schedule is the well-known exponential-with-jitter rather than another
hand-written formula.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tenacity
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.contracts import ChannelAdapter


class RetryPolicy(BaseModel):
    """A partner's retry schedule.

    The delay before attempt ``n + 1`` is
    ``min(initial_seconds * multiplier ** (n - 1) + uniform(0, jitter_seconds), max_seconds)``;
    the call is dead-lettered when the next attempt would fall after ``deadline_seconds``
    from its enqueue (or after a replay), or once ``max_attempts`` attempts failed.
    Frozen and validated, so channel specs can load it straight from their data files.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_seconds: float = Field(default=10.0, gt=0, description="one attempt")
    initial_seconds: float = Field(default=1.0, ge=0, description="delay after the 1st failure")
    max_seconds: float = Field(default=300.0, ge=0, description="cap of any one delay")
    multiplier: float = Field(default=2.0, ge=1, description="growth per failed attempt")
    jitter_seconds: float = Field(default=1.0, ge=0, description="uniform random extra")
    deadline_seconds: float = Field(default=86_400.0, gt=0, description="then dead-letter")
    max_attempts: int | None = Field(default=None, ge=1, description="then dead-letter")

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> RetryPolicy:
        if self.max_seconds < self.initial_seconds:
            raise ValueError("max_seconds must be >= initial_seconds")
        return self

    def wait_strategy(self) -> tenacity.wait.wait_base:
        """The tenacity strategy this policy stands for (tenacity's ``multiplier`` is our
        ``initial_seconds``, its ``exp_base`` our ``multiplier``)."""
        return tenacity.wait_exponential_jitter(
            multiplier=self.initial_seconds,
            exp_base=self.multiplier,
            max=self.max_seconds,
            jitter=self.jitter_seconds,
        )

    def next_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Computed by tenacity from a real `tenacity.RetryCallState`, the same object its
        ``Retrying`` loop hands a wait strategy, so we inherit its overflow handling too.
        """
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        state = tenacity.RetryCallState(retry_object=_RETRYING, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        return float(self.wait_strategy()(state))

    def gives_up_after(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts exhaust ``max_attempts``."""
        return self.max_attempts is not None and attempts >= self.max_attempts


# RetryCallState wants the Retrying that owns it; the wait strategies never look at it.
_RETRYING = tenacity.Retrying()

DEFAULT_POLICY = RetryPolicy()
"""For partners that state nothing: 10 s per attempt, 1 s doubling to 5 min, one day."""


def adapter_policy(adapter: ChannelAdapter | Any | None, kind: str | None = None) -> RetryPolicy:
    """The policy for one kind of call of an adapter, or `DEFAULT_POLICY`.

    An adapter whose partner has a schedule per call (Ctrip: a confirmation must land
    within 30 minutes, a consumed notice may take three days) carries
    ``retry_policy_for(kind) -> RetryPolicy | None``; otherwise, or when that returns
    None, its ``retry_policy`` attribute applies. Read with ``getattr`` because both are
    optional in the `ChannelAdapter` protocol: most plugins are happy with the default.
    """
    per_kind = getattr(adapter, "retry_policy_for", None)
    if kind is not None and callable(per_kind):
        policy = per_kind(kind)
        if isinstance(policy, RetryPolicy):
            return policy
    policy = getattr(adapter, "retry_policy", None)
    return policy if isinstance(policy, RetryPolicy) else DEFAULT_POLICY


class PolicyLookup:
    """``policy_for(partner, kind=None)`` built on the lookup that finds the adapters
    (e.g. ``policies_from(plugins.channels.find)``), so enqueue and worker agree."""

    def __init__(self, deliverer: Callable[[str], ChannelAdapter | None]) -> None:
        self._deliverer = deliverer

    def __call__(self, partner: str, kind: str | None = None) -> RetryPolicy:
        return adapter_policy(self._deliverer(partner), kind)


def policies_from(deliverer: Callable[[str], ChannelAdapter | None]) -> PolicyLookup:
    """The partner's (and, where the adapter says, the call kind's) policy lookup."""
    return PolicyLookup(deliverer)


def policy_of(policy_for: Callable[..., RetryPolicy], partner: str, kind: str) -> RetryPolicy:
    """Ask ``policy_for`` for one call: per kind when it is a `PolicyLookup`, per partner
    for the plain ``partner -> policy`` callables tests and tools pass."""
    if isinstance(policy_for, PolicyLookup):
        return policy_for(partner, kind)
    return policy_for(partner)
