"""The channel spec: one partner's protocol as validated data.

Integrators add OTAs all the time, so everything that differs between partners but is
not logic — envelope shape, encryption and signing scheme names, field mapping to the
canonical `OrderRequest`, result-code table, deadlines, callback retry schedules,
idempotency key, limits — lives in one TOML file per partner (a built-in partner's in its
plugin folder, ``plugins/channel_ctrip/ctrip.toml``) and is checked here when it loads.
Every model forbids unknown keys, so a typo fails at start-up with the field's path
instead of silently turning a feature off. Secrets never appear: a spec names the
*setting* that holds a key (``key_setting = "CTRIP_AES_KEY"``).

The tables live in four modules: this one (the partner's inbound protocol and
`ChannelSpec`), `hub.channels.spec_base` (the table base, dotted paths, scheme names),
`hub.channels.spec_outbound` (callbacks, ``[outbound]``, ``[answer]``) and
`hub.channels.spec_settlement` (``[settlement]``).

Any table may carry ``unconfirmed = true`` (and a ``note``): the fact comes from a single
public source and is kept configurable so it can be corrected without code changes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hub.channels.jsondoc import MAX_DEPTH
from hub.channels.spec_base import (
    BodyEncoding,
    DottedPath,
    EncryptionScheme,
    SigningScheme,
    SpecTable,
    check_path,
)
from hub.channels.spec_outbound import Answer, Callback, Outbound
from hub.channels.spec_settlement import Settlement
from hub.domain.errors import DenialCode
from hub.domain.order import IdType

SPECIAL_RESULTS = (
    "OK",
    "PARSE_ERROR",
    "BAD_SIGN",
    "BAD_ACCOUNT",
    "INTERNAL",
    "PENDING",
    "RATE_LIMITED",
    "BUSY",
)
"""Result keys that are not rule denials but every partner has a code for. ``PENDING``:
accepted and done, the result follows in a callback (Meituan 598 "issuing in progress").
``RATE_LIMITED``: over ``[limits].rate_per_second``; a spec without its own entry answers
with its ``INTERNAL`` code (a system error, which every partner retries). ``BUSY``: the
hub shed the order under overload (nothing written); answered likewise unless the spec
has its own entry."""

SIGN_SPECIALS = ("$secret",)
"""Pseudo-fields allowed in a ``md5_concat`` field list (the signing secret)."""

CanonicalOperation = Literal[
    "verify", "create_hold", "pay", "create_paid", "cancel", "refund", "query"
]


class ChannelInfo(SpecTable):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="id = file stem")
    display_name: str = Field(min_length=1)
    version: str = Field(min_length=1, description="of this spec, not of the partner API")
    direction: str = Field(default="", description="free text: who calls whom")


class ResponseEnvelope(SpecTable):
    code_path: DottedPath
    message_path: DottedPath
    body_path: DottedPath | None = None
    success_code: str | int
    body_only_on_success: bool = True


class Envelope(SpecTable):
    format: Literal["json"] = "json"
    request_fields: list[str] = Field(
        default_factory=list, description="top-level request keys signing fields may use"
    )
    operation_from: Literal["field", "url"] = "field"
    operation_path: DottedPath | None = None
    body_path: DottedPath | None = Field(default=None, description="None: the whole document")
    body_encoding: BodyEncoding = "none"
    account_path: DottedPath | None = None
    account_setting: str | None = Field(
        default=None, pattern=r"^[A-Z][A-Z0-9_]*$", description="NAME of the setting"
    )
    response: ResponseEnvelope

    @model_validator(mode="after")
    def _operation_located(self) -> Envelope:
        if self.operation_from == "field" and self.operation_path is None:
            raise ValueError("operation_path is required when operation_from = 'field'")
        return self


class Encryption(SpecTable):
    scheme: EncryptionScheme = "none"
    key_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    iv_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    trigger_header: str | None = Field(default=None, description="e.g. X-Encryption-Status")

    @model_validator(mode="after")
    def _settings_named(self) -> Encryption:
        if self.scheme != "none" and not self.key_setting:
            raise ValueError(f"scheme {self.scheme!r} needs key_setting")
        return self


class SignatureSide(SpecTable):
    scheme: SigningScheme = "none"
    fields: list[str] = Field(default_factory=list, description="md5_concat parts, in order")
    case: Literal["lower", "upper"] = "lower"
    location: str | None = Field(
        default=None,
        pattern=r"^(body|header|query):[A-Za-z0-9_.\-\[\]]+$",
        description="'body:header.sign', 'header:x-life-sign', 'query:sign'",
    )
    secret_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    client_id_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    timestamp: str | None = Field(
        default=None,
        pattern=r"^(body|header|query):[A-Za-z0-9_.\-\[\]]+$",
        description="where the signed request time is: 'header:Date', 'query:timestamp'",
    )
    timestamp_format: str = Field(
        default="rfc1123",
        description="'rfc1123', 'epoch_ms', 'epoch_s' or a strptime format (taken as UTC)",
    )
    max_skew_seconds: float | None = Field(
        default=None, gt=0, description="refuse a request time further off (replays)"
    )
    timestamp_timezone: str = Field(
        default="UTC", description="IANA zone of a strptime-format request time (TOP: GMT+8)"
    )
    sign_body: bool = Field(
        default=False,
        description="top_* schemes: the raw body is signed after the sorted parameters",
    )
    method_location: str | None = Field(
        default=None,
        pattern=r"^(body|header|query):[A-Za-z0-9_.\-\[\]]+$",
        description="top_* schemes: where the caller names its sign method ('query:sign_method'"
        ": md5, hmac or hmac-sha256, TOP's choice of the caller); the scheme is the default "
        "when the call names none",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SignatureSide:
        if self.scheme == "md5_concat" and not self.fields:
            raise ValueError("md5_concat needs the ordered 'fields' list")
        if self.scheme != "none" and not self.secret_setting:
            raise ValueError(f"scheme {self.scheme!r} needs secret_setting")
        if self.max_skew_seconds is not None and self.timestamp is None:
            raise ValueError("max_skew_seconds needs 'timestamp' (where the request time is)")
        for i, f in enumerate(self.fields):
            if f not in SIGN_SPECIALS:
                try:
                    check_path(f)
                except ValueError as exc:
                    raise ValueError(f"fields[{i}]: {exc}") from None
        return self


class Signing(SpecTable):
    inbound: SignatureSide = SignatureSide()
    inbound_fallback: SignatureSide | None = Field(
        default=None, description="a legacy scheme still accepted (Douyin md5 'sign')"
    )
    outbound: SignatureSide = SignatureSide()


class Idempotency(SpecTable):
    key_path: DottedPath | None = Field(default=None, description="into the decoded body")
    per_operation: dict[str, DottedPath] = Field(default_factory=dict)
    replay: Literal["first_answer"] = "first_answer"
    conflict_code: str = "IDEMPOTENCY_CONFLICT"


class ResultEntry(SpecTable):
    code: str | int
    message: str = ""


class Operation(SpecTable):
    canonical: CanonicalOperation
    deadline_seconds: float = Field(gt=0, description="the partner stops waiting after")
    path: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_\-./]+$",
        description="URL path under the channel's base when operation_from = 'url' "
        "(default: the operation's name)",
    )
    result_codes: dict[str, ResultEntry] = Field(
        default_factory=dict, description="overrides of the spec-wide table for this call"
    )
    quantity: DottedPath | None = Field(
        default=None,
        description="refund: the units asked back (absent from the body: everything left); "
        "default [mapping].quantity",
    )
    refund_id: DottedPath | None = Field(
        default=None,
        description="refund: the partner's id of this refund, the key of a partial refund "
        "(without one, the body's fingerprint is)",
    )

    @model_validator(mode="after")
    def _known_keys(self) -> Operation:
        for key in self.result_codes:
            _check_result_key(key)
        if self.canonical != "refund" and (self.quantity or self.refund_id):
            raise ValueError("'quantity' and 'refund_id' apply to canonical = 'refund' only")
        return self


class VisitorMapping(SpecTable):
    name: DottedPath | None = None
    id_type: DottedPath | None = None
    id_number: DottedPath | None = None
    phone: DottedPath | None = None


class ContactMapping(SpecTable):
    name: DottedPath | None = None
    phone: DottedPath | None = None
    email: DottedPath | None = None


class Mapping(SpecTable):
    partner_order_id: DottedPath
    product: DottedPath
    quantity: DottedPath
    travel_date: DottedPath | None = None
    date_format: str = "%Y-%m-%d"
    slot: DottedPath | None = None
    amount: DottedPath | None = None
    amount_unit: Literal["fen", "yuan"] = "fen"
    visitors: DottedPath | None = Field(default=None, description="list; visitor.* relative")
    visitor: VisitorMapping = VisitorMapping()
    id_types: dict[str, IdType] = Field(default_factory=dict)
    contact: ContactMapping | None = None


class Limits(SpecTable):
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_depth: int = Field(
        default=MAX_DEPTH,
        ge=1,
        le=200,
        description="arrays/objects nested in the request and in its decoded body; deeper "
        "is a PARSE_ERROR (a parser or walker would overflow Python's stack)",
    )
    rate_per_second: float | None = Field(
        default=None, gt=0, description="inbound calls per second per hub process"
    )
    burst: int | None = Field(
        default=None, ge=1, description="calls saved up beyond the rate (default: one second's)"
    )


def _check_result_key(key: str) -> None:
    if key == "default" or key in SPECIAL_RESULTS or key in DenialCode.__members__:
        return
    raise ValueError(
        f"result_codes.{key}: unknown result key {key!r} (not a DenialCode, special or 'default')"
    )


class ChannelSpec(SpecTable):
    """One partner. `result` maps a canonical outcome to the partner's code."""

    channel: ChannelInfo
    envelope: Envelope
    encryption: Encryption = Encryption()
    signing: Signing = Signing()
    idempotency: Idempotency = Idempotency()
    operations: dict[str, Operation] = Field(default_factory=dict)
    mapping: Mapping | None = None
    result_codes: dict[str, ResultEntry]
    callbacks: dict[str, Callback] = Field(default_factory=dict)
    outbound: Outbound | None = None
    answer: Answer | None = None
    limits: Limits = Limits()
    settlement: Settlement | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> ChannelSpec:
        if "default" not in self.result_codes:
            raise ValueError("result_codes: a 'default' entry is required")
        for key in self.result_codes:
            _check_result_key(key)
        roots = set(self.envelope.request_fields)
        for side in ("inbound", "inbound_fallback", "outbound"):
            signature = getattr(self.signing, side)
            for i, f in enumerate(signature.fields if signature else ()):
                if f not in SIGN_SPECIALS and f.split(".")[0].split("[")[0] not in roots:
                    raise ValueError(f"signing.{side}.fields[{i}]: unknown field {f!r}")
        for op in self.idempotency.per_operation:
            if op not in self.operations:
                raise ValueError(f"idempotency.per_operation: unknown operation {op!r}")
        return self

    def result(self, code: str, operation: str | None = None) -> tuple[str, str]:
        """``(partner_code, message)`` for a `DenialCode` value or special.

        The operation's own table wins (Ctrip answers "already used" with ``2002`` on a
        cancel but ``3001`` on a refund), then the spec-wide one, then ``default``.
        """
        entry = self.result_entry(code, operation)
        return str(entry.code), entry.message

    def result_entry(self, code: str, operation: str | None = None) -> ResultEntry:
        """The table entry itself: its code keeps the partner's JSON type (Meituan's
        ``200`` is a number, Ctrip's ``"0000"`` a string)."""
        key = str(code)
        op = self.operations.get(operation) if operation else None
        entry = (op.result_codes.get(key) if op else None) or self.result_codes.get(key)
        if entry is None and key in ("RATE_LIMITED", "BUSY"):
            return self.result_entry("INTERNAL", operation)
        return entry or self.result_codes["default"]

    def operation_for_path(self, path: str) -> str | None:
        """The operation a partner called by URL (``operation_from = 'url'``)."""
        path = path.strip("/")
        for name, op in self.operations.items():
            if (op.path or name).strip("/") == path:
                return name
        return None

    def idempotency_path(self, operation: str) -> str | None:
        """Where the idempotency key is in this operation's decoded body."""
        return self.idempotency.per_operation.get(operation, self.idempotency.key_path)
