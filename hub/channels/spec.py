"""The channel spec: one partner's protocol as validated data.

Integrators add OTAs all the time, so everything that differs between partners but is
not logic — envelope shape, encryption and signing scheme names, field mapping to the
canonical `OrderRequest`, result-code table, deadlines, callback retry schedules,
idempotency key, limits — lives in one TOML file per partner (a built-in partner's in its
plugin folder, ``plugins/channel_ctrip/ctrip.toml``) and is checked here when it loads.
Every model forbids unknown keys, so a typo fails at start-up with the field's path
instead of silently turning a feature off. Secrets never appear: a spec names the
*setting* that holds a key (``key_setting = "CTRIP_AES_KEY"``).

Any table may carry ``unconfirmed = true`` (and a ``note``): the fact comes from a single
public source and is kept configurable so it can be corrected without code changes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from hub.channels.jsondoc import MAX_DEPTH
from hub.domain.errors import DenialCode
from hub.domain.order import IdType
from hub.outbox.policy import RetryPolicy

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\[\d+\])*"
_PATH_RE = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")

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


def check_path(value: str) -> str:
    """A dotted path: ``a.b[0].c`` — names of letters, digits, ``_`` or ``-``."""
    if not _PATH_RE.match(value):
        raise ValueError(f"bad dotted path syntax {value!r} (expected like 'a.b[0].c')")
    return value


DottedPath = Annotated[str, AfterValidator(check_path)]
SchemeName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_\-]{0,63}$",
        description="a scheme registered by an installed plugin (`hub.channels.schemes`), "
        "or 'none'",
    ),
]
"""A codec or signature scheme by name. Which names exist depends on the installed
plugins, so the model checks the spelling only; `hub.channels.schemes.Protocols.problems`
checks the name (and what the scheme needs) when the spec is loaded with the registries."""
EncryptionScheme = SchemeName
SigningScheme = SchemeName
BodyEncoding = SchemeName


class _Table(BaseModel):
    """Base of every spec table: frozen, typo-proof, may be flagged unconfirmed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unconfirmed: bool = False
    note: str = ""


class ChannelInfo(_Table):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="id = file stem")
    display_name: str = Field(min_length=1)
    version: str = Field(min_length=1, description="of this spec, not of the partner API")
    direction: str = Field(default="", description="free text: who calls whom")


class ResponseEnvelope(_Table):
    code_path: DottedPath
    message_path: DottedPath
    body_path: DottedPath | None = None
    success_code: str | int
    body_only_on_success: bool = True


class Envelope(_Table):
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


class Encryption(_Table):
    scheme: EncryptionScheme = "none"
    key_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    iv_setting: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    trigger_header: str | None = Field(default=None, description="e.g. X-Encryption-Status")

    @model_validator(mode="after")
    def _settings_named(self) -> Encryption:
        if self.scheme != "none" and not self.key_setting:
            raise ValueError(f"scheme {self.scheme!r} needs key_setting")
        return self


class SignatureSide(_Table):
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


class Signing(_Table):
    inbound: SignatureSide = SignatureSide()
    inbound_fallback: SignatureSide | None = Field(
        default=None, description="a legacy scheme still accepted (Douyin md5 'sign')"
    )
    outbound: SignatureSide = SignatureSide()


class Idempotency(_Table):
    key_path: DottedPath | None = Field(default=None, description="into the decoded body")
    per_operation: dict[str, DottedPath] = Field(default_factory=dict)
    replay: Literal["first_answer"] = "first_answer"
    conflict_code: str = "IDEMPOTENCY_CONFLICT"


class ResultEntry(_Table):
    code: str | int
    message: str = ""


class Operation(_Table):
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


class VisitorMapping(_Table):
    name: DottedPath | None = None
    id_type: DottedPath | None = None
    id_number: DottedPath | None = None
    phone: DottedPath | None = None


class ContactMapping(_Table):
    name: DottedPath | None = None
    phone: DottedPath | None = None
    email: DottedPath | None = None


class Mapping(_Table):
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


class RetrySchedule(_Table):
    initial_seconds: float = Field(default=1.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_seconds: float = Field(default=300.0, ge=0)
    jitter_seconds: float = Field(default=1.0, ge=0)
    deadline_seconds: float = Field(default=86_400.0, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)


CallbackEvent = Literal["order_confirmed", "order_cancelled", "order_refunded", "ticket_redeemed"]


class Callback(_Table):
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


class Outbound(_Table):
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


class VoucherAnswer(_Table):
    id: DottedPath | None = None
    code: DottedPath | None = None
    state: DottedPath | None = None


class Answer(_Table):
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


class Limits(_Table):
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


SettlementField = Literal[
    "partner_order_id",
    "supplier_order_id",
    "day",
    "travel_date",
    "product",
    "quantity",
    "used_quantity",
    "refunded_quantity",
    "amount",
    "settlement_amount",
    "commission",
    "state",
    "merchant",
]
"""What a settlement line can say. ``day`` is the day the line belongs to (the statement's
day: order or settlement date); ``amount`` what the partner charged for the order (the
hub's order amount); ``merchant`` our supplier / partner id at the OTA."""

SettlementState = Literal["paid", "refunded", "used"]
SETTLEMENT_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


class SettlementColumn(_Table):
    header: str = Field(min_length=1, description="the column's title in the header row")
    required: bool = Field(default=True, description="false: the column may be absent")


class Settlement(_Table):
    """The partner's settlement file (对账单/结算单) as its portal exports it: what the
    hub's reconciliation reads (`hub.reconcile.settlement`)."""

    formats: list[Literal["csv", "xlsx"]] = Field(default=["csv"], min_length=1)
    encodings: list[Literal[SETTLEMENT_ENCODINGS]] = Field(  # type: ignore[valid-type]
        default=["utf-8-sig"], min_length=1, description="CSV: tried in this order"
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1, le=50, description="1-based; rows above: title")
    sheet: str | None = Field(default=None, description="XLSX sheet name (default: the first)")
    date_formats: list[str] = Field(default=["%Y-%m-%d"], min_length=1, description="strptime")
    amount_unit: Literal["fen", "yuan"] = "yuan"
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone of the day column")
    merchant_setting: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="NAME of the setting every line's merchant column must equal",
    )
    footer_label: str | None = Field(
        default=None,
        description="first cell of the closing total row; when set, a file without it is "
        "refused as truncated",
    )
    columns: dict[SettlementField, SettlementColumn]
    states: dict[str, SettlementState] = Field(
        default_factory=dict, description="the partner's state word -> paid/refunded/used"
    )

    @model_validator(mode="after")
    def _needs(self) -> Settlement:
        for must in ("partner_order_id", "amount", "day"):
            col = self.columns.get(must)  # type: ignore[call-overload]
            if col is None or not col.required:
                raise ValueError(f"columns.{must}: required (a line is matched by it)")
        if "state" in self.columns and not self.states:
            raise ValueError("states: a state column needs its words mapped")
        if "merchant" in self.columns and not self.merchant_setting:
            raise ValueError("merchant_setting: a merchant column is checked against it")
        return self


def _check_result_key(key: str) -> None:
    if key == "default" or key in SPECIAL_RESULTS or key in DenialCode.__members__:
        return
    raise ValueError(
        f"result_codes.{key}: unknown result key {key!r} (not a DenialCode, special or 'default')"
    )


class ChannelSpec(_Table):
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
