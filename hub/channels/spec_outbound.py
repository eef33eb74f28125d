"""The channel-spec tables for what the hub sends the partner, not what it answers.

``[callbacks.*]`` (each call's timeout, retry schedule, batching, the hub event that queues
it), ``[outbound]`` (where and with which envelope fields we call the partner) and
``[answer]`` (where a spec-only channel writes an order in its answers and callback
bodies). They are their own module because the outbox and sender side (`hub.channels.sender`,
`hub.channels.outbound`) reads them and the inbound adapter mostly does not; `ChannelSpec`
in `hub.channels.spec` holds them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from hub.channels.spec_base import DottedPath, SpecTable
from hub.outbox.policy import RetryPolicy


class RetrySchedule(SpecTable):
    initial_seconds: float = Field(default=1.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_seconds: float = Field(default=300.0, ge=0)
    jitter_seconds: float = Field(default=1.0, ge=0)
    deadline_seconds: float = Field(default=86_400.0, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)


CallbackEvent = Literal["order_confirmed", "order_cancelled", "order_refunded", "ticket_redeemed"]


class Callback(SpecTable):
    operation: str = Field(min_length=1, description="partner's name for the call")
    on: CallbackEvent | None = Field(
        default=None,
        description="the hub event that queues this call in a spec-only channel "
        "(its body is the order in the [answer] layout)",
    )
    path: str | None = Field(default=None, description="URL path when the partner has one")
    timeout_seconds: float = Field(gt=0)
    retry: RetrySchedule = RetrySchedule()
    cumulative: bool = Field(default=False, description="quantities are running totals")
    batch_max: int | None = Field(default=None, ge=1)
    rate_per_minute: int | None = Field(default=None, ge=1)
    idempotency_field: DottedPath | None = None
    url_setting: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="NAME of the setting with this call's URL (else [outbound].url_setting)",
    )
    coalesce_seconds: float | None = Field(
        default=None, gt=0, description="a burst of changes within this window is one call"
    )

    @model_validator(mode="after")
    def _policy_valid(self) -> Callback:
        self.retry_policy()  # RetryPolicy's own checks (max >= initial) at load time
        return self

    def retry_policy(self) -> RetryPolicy:
        """The outbox policy for this callback: the spec's timeout and schedule."""
        r = self.retry
        return RetryPolicy(
            timeout_seconds=self.timeout_seconds,
            initial_seconds=r.initial_seconds,
            multiplier=r.multiplier,
            max_seconds=r.max_seconds,
            jitter_seconds=r.jitter_seconds,
            deadline_seconds=r.deadline_seconds,
            max_attempts=r.max_attempts,
        )


class Outbound(SpecTable):
    """How we call the partner (callbacks): where, and the envelope fields a request
    needs beyond what `[envelope]` already names (operation, account, body)."""

    url_setting: str | None = Field(
        default=None, pattern=r"^[A-Z][A-Z0-9_]*$", description="NAME of the URL setting"
    )
    constants: dict[DottedPath, str] = Field(
        default_factory=dict, description="fixed fields, e.g. {'header.version' = '1.0'}"
    )
    timestamp_path: DottedPath | None = Field(default=None, description="request time field")
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    timezone: str = Field(default="UTC", description="IANA zone of timestamp_path")
    retryable_codes: list[str] = Field(
        default_factory=list, description="partner result codes that mean 'try again later'"
    )
    header_settings: dict[str, Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = Field(
        default_factory=dict,
        description="HTTP header -> NAME of the setting holding its value "
        "(Meituan: {PartnerId = 'MEITUAN_PARTNER_ID'})",
    )
    encrypt_setting: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="NAME of a setting that, when true, sends our calls whole-body "
        "encrypted with [encryption] and its trigger_header (Meituan global encryption)",
    )


class VoucherAnswer(SpecTable):
    id: DottedPath | None = None
    code: DottedPath | None = None
    state: DottedPath | None = None


class Answer(SpecTable):
    """Where a spec-only channel writes an order in its answers and callback bodies
    (paths into the business body; absent = not sent). Quantities are units: used and
    refunded are running totals, which is what cumulative notices need."""

    partner_order_id: DottedPath | None = None
    order_id: DottedPath | None = None
    state: DottedPath | None = None
    states: dict[str, str] = Field(
        default_factory=dict, description="hub order state -> the partner's word"
    )
    quantity: DottedPath | None = None
    used_quantity: DottedPath | None = None
    refunded_quantity: DottedPath | None = None
    available: DottedPath | None = Field(default=None, description="units left (verify)")
    vouchers: DottedPath | None = None
    voucher: VoucherAnswer = VoucherAnswer()
