"""What the conformance kit needs from a channel: a probe that speaks as the partner.

A probe builds requests exactly as its partner does (envelope, encryption, signature) and
reads the answers in the partner's vocabulary; the kit never learns the protocol, so the
same checks run against every channel, built-in or third-party.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aiohttp.test_utils import TestClient


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """One HTTP request as the partner would send it."""

    method: str
    path: str
    body: bytes = b""
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """The partner's reading of an answer: its result code (as text) and business body."""

    code: str
    body: Any = None


@runtime_checkable
class ChannelProbe(Protocol):
    """A channel, driven from its partner's side. See the README of `hub.testing`."""

    channel: str
    settings: Mapping[str, str]
    # optional: ``hub_settings`` (a Mapping of extra hub `Settings` fields, e.g.
    # ``channel_specs_dirs`` for a spec-only channel)
    ok_codes: frozenset[str]
    bad_sign_codes: frozenset[str]
    parse_error_codes: frozenset[str]
    sold_out_codes: frozenset[str]
    conflict_codes: frozenset[str]

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        """A valid, signed request that takes `quantity` units (hold or paid)."""
        ...

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        """The same request with its signature broken."""
        ...

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Transport fine (signed where possible), body undecodable."""
        ...

    def oversized(self, size: int) -> ProbeRequest:
        """A request whose body is `size` bytes."""
        ...

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        """The partner's reading of the hub's answer."""
        ...

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        """Channel settings that point the hub's callbacks at the kit's receiver."""
        ...

    async def provoke_callback(self, client: TestClient, partner_order_id: str) -> None:
        """After `order` succeeded, make the hub queue exactly one callback."""
        ...

    def callback_identity(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """What identifies one logical callback; ValueError when it is not authentic."""
        ...

    def callback_answer(self) -> tuple[int, Mapping[str, str], bytes]:
        """The partner's success answer to a callback."""
        ...
