"""What the conformance kit needs from a channel: a probe that speaks as the partner.

A probe builds requests exactly as its partner does (envelope, encryption, signature) and
reads the answers in the partner's vocabulary; the kit never learns the protocol, so the
same checks run against every channel, built-in or third-party.

Subclass `ChannelProbe`. Required: ``channel``, ``settings``, ``codes`` and the methods
`order`, `forge`, `malformed`, `oversized`, `read`. The hooks below have defaults that fit
most partners; override the ones yours differs in:

`carrying`
    the stock-taking call with bytes the kit chose (deeply nested JSON) as its business
    body, wrapped, encrypted and signed as the partner does, so the kit's nesting checks
    reach the hub's parser of the business body. Default: the `order` request with those
    bytes as its whole HTTP body — right for a partner whose body IS the business
    document and whose signature does not cover it; override it otherwise.

``hub_settings``
    extra hub `Settings` fields (e.g. ``channel_specs_dirs`` for a spec-only channel).
`prepare`
    ``async def prepare(self, kit)``: called once per check on the freshly seeded hub,
    before any request; set up what the partner needs, the way staff would (an agency's
    account with credit and its API key, through `KitHub.admin`).
`resend`
    the same business request as the partner transmits it again (the replay check).
    Default: the very same bytes, which is what OTAs do (they dedupe on their order id).
    A scheme with a fresh nonce per transmission re-signs instead.
``no_callbacks``
    a reason, for a partner the hub never calls back: the callback check is then SKIPPED
    with that reason (a skip, not a pass, so a report shows it was not checked).
callbacks
    `callback_settings` points the hub at the kit's receiver, `provoke_callback` makes the
    hub queue one callback per order, `callback_identity` names what one received request
    is, `callback_answer` answers it. When one logical callback takes several requests
    (Douyin: ``client_token``, ``prepare``, then ``verify``), `callback_identity` returns
    None for the preparatory steps: the receiver answers them with `callback_answer`,
    never injects a fault into them and never counts them, so its faults and its
    exactly-once count fall on the requests that ARE the callback.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from hub.testing.conformance.harness import KitHub

Answer = tuple[int, Mapping[str, str], bytes]
"""An HTTP answer as the partner's callback endpoint gives it: status, headers, body."""


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """One HTTP request as the partner would send it."""

    method: str
    path: str
    body: bytes = b""
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_headers(self, **changed: str) -> ProbeRequest:
        """The same request with some headers replaced (names as written here)."""
        return ProbeRequest(
            self.method, self.path, self.body, self.query, {**self.headers, **changed}
        )


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """The partner's reading of an answer: its result code (as text) and business body."""

    code: str
    body: Any = None


@dataclass(frozen=True, slots=True)
class ReceivedCall:
    """One request at the kit's callback receiver. ``headers`` is case-insensitive (the
    receiver passes aiohttp's), as HTTP header names are; ``target`` is the request target
    as it came on the wire (path and query, undecoded), for schemes that sign it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    target: str = ""


def _codes(given: str | Iterable[str]) -> frozenset[str]:
    return frozenset({given} if isinstance(given, str) else given)


@dataclass(frozen=True, slots=True, init=False)
class PartnerCodes:
    """The partner's result codes the checks look for, each one code or several."""

    ok: frozenset[str]
    bad_sign: frozenset[str]
    parse_error: frozenset[str]
    sold_out: frozenset[str]
    conflict: frozenset[str]

    def __init__(
        self,
        *,
        ok: str | Iterable[str],
        bad_sign: str | Iterable[str],
        parse_error: str | Iterable[str],
        sold_out: str | Iterable[str],
        conflict: str | Iterable[str],
    ) -> None:
        for name, given in (
            ("ok", ok),
            ("bad_sign", bad_sign),
            ("parse_error", parse_error),
            ("sold_out", sold_out),
            ("conflict", conflict),
        ):
            object.__setattr__(self, name, _codes(given))


def broken(sign: str) -> str:
    """`sign` with its first character changed: a forgery that differs for certain (a
    fixed replacement character would leave one signature in sixteen intact)."""
    return ("0" if sign[:1] != "0" else "1") + sign[1:]


class ChannelProbe(ABC):
    """A channel, driven from its partner's side (see the module docstring)."""

    channel: ClassVar[str]
    settings: Mapping[str, str]
    codes: ClassVar[PartnerCodes]
    hub_settings: ClassVar[Mapping[str, Any]] = {}
    no_callbacks: ClassVar[str | None] = None

    @abstractmethod
    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        """A valid, signed request that takes `quantity` units (hold or paid)."""

    @abstractmethod
    def forge(self, request: ProbeRequest) -> ProbeRequest:
        """The same request with its signature broken."""

    @abstractmethod
    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Transport fine (signed where possible), body undecodable."""

    @abstractmethod
    def oversized(self, size: int) -> ProbeRequest:
        """A request whose body is `size` bytes."""

    @abstractmethod
    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        """The partner's reading of the hub's answer."""

    def carrying(self, raw: bytes) -> ProbeRequest:
        """The stock-taking call with ``raw`` as its business body (see the module doc)."""
        request = self.order("CK-CARRY", product="adult", day=date.today(), quantity=1)
        return ProbeRequest(request.method, request.path, raw, request.query, request.headers)

    async def prepare(self, kit: KitHub) -> None:
        """Set up what the partner needs on the seeded hub; nothing by default."""
        return None

    def resend(self, request: ProbeRequest) -> ProbeRequest:
        """The partner's retransmission of `request`; by default the same bytes."""
        return request

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        """Channel settings that point the hub's callbacks at the kit's receiver."""
        raise NotImplementedError(f"{type(self).__name__}: callback_settings or no_callbacks")

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        """After `order` succeeded, make the hub queue exactly one callback."""
        raise NotImplementedError(f"{type(self).__name__}: provoke_callback or no_callbacks")

    def callback_identity(self, call: ReceivedCall) -> str | None:
        """What identifies one logical callback, None for a preparatory step of one;
        ValueError when the request is not authentic."""
        raise NotImplementedError(f"{type(self).__name__}: callback_identity or no_callbacks")

    def callback_answer(self, call: ReceivedCall) -> Answer:
        """The partner's success answer to an authentic callback or step."""
        raise NotImplementedError(f"{type(self).__name__}: callback_answer or no_callbacks")
