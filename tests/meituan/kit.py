"""Meituan test kit: a hub with the Meituan channel, the sandbox Meituan client (signing
in the hub's fixed time), the sandbox notice receiver, and an outbox worker the test
drives round by round on the hub's FixedClock (`hub.testing.channel_rig`: backoff without
waiting; only attempt timeouts are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp.test_utils import TestClient

from hub.clock import FixedClock
from hub.testing.channel_rig import ChannelRig, serving
from sandbox.ota.meituan import CREATE, PAY, MeituanClient, MeituanReceiver, MeituanReply
from tests.channel_kit import day_seed
from tests.support import T0, TOMORROW, id_number, settings

SECRETS = {
    "MEITUAN_PARTNER_ID": "mt-partner-7",
    "MEITUAN_CLIENT_ID": "mt-client-7",
    "MEITUAN_CLIENT_SECRET": "mt-secret-abc",
    "MEITUAN_AES_KEY": "0123456789abcdef",
}
ATTEMPT_SCALE = "0.04"
"""Notices' schedule compressed: a 10 s attempt becomes 0.4 s (MEITUAN_CALLBACK_TIME_SCALE)."""


def meituan(client: TestClient, clock: FixedClock, **over: Any) -> MeituanClient:
    """The sandbox Meituan, signing with the hub's (fixed) time."""
    keys: dict[str, Any] = {
        "partner_id": SECRETS["MEITUAN_PARTNER_ID"],
        "client_id": SECRETS["MEITUAN_CLIENT_ID"],
        "client_secret": SECRETS["MEITUAN_CLIENT_SECRET"],
        "aes_key": SECRETS["MEITUAN_AES_KEY"],
    }
    return MeituanClient(http=client, now=clock.now, **{**keys, **over})


def order(mt: str, deal: str = "adult", quantity: int = 1, **over: Any) -> dict[str, Any]:
    """Meituan's create-order body (unconfirmed field names, as in the spec's mapping)."""
    body: dict[str, Any] = {
        "orderId": mt,
        "partnerDealId": deal,
        "quantity": quantity,
        "travelDate": TOMORROW.isoformat(),
        "unitPrice": "100.00",
        "contactPerson": {"name": "Han Meimei", "mobile": "13900000000"},
        "visitors": [],
    }
    body.update(over)
    return body


async def paid_order(mt: MeituanClient, mt_id: str, quantity: int) -> MeituanReply:
    """An order Meituan created and paid (the answer carries its vouchers)."""
    created = await mt.call(CREATE, order(mt_id, quantity=quantity))
    assert created.ok, created
    paid = await mt.call(PAY, {"orderId": mt_id})
    assert paid.ok, paid
    return paid


def visitors(n: int, first: int = 200) -> list[dict[str, Any]]:
    """``n`` real-name visitors with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "credentialType": 0, "credentials": id_number(seq=first + i)}
        for i in range(n)
    ]


@dataclass
class Rig(ChannelRig):
    """A hub whose Meituan notices go to a sandbox receiver, and the worker to land them."""

    partner: ClassVar[str] = "meituan"
    receiver: MeituanReceiver

    def meituan(self, **over: Any) -> MeituanClient:
        return meituan(self.client, self.clock, **over)


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    callbacks: bool = True,
    receiver_secret: str | None = None,
    hub_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    clock = FixedClock(T0)
    receiver = MeituanReceiver(
        SECRETS["MEITUAN_PARTNER_ID"],
        SECRETS["MEITUAN_CLIENT_ID"],
        receiver_secret or SECRETS["MEITUAN_CLIENT_SECRET"],
        SECRETS["MEITUAN_AES_KEY"],
        now=clock.now,
    )
    async with serving(receiver) as url:
        channel = {**SECRETS, "MEITUAN_CALLBACK_TIME_SCALE": ATTEMPT_SCALE, **(extra or {})}
        if callbacks:
            channel["MEITUAN_CALLBACK_URL"] = url
        yield await Rig.start(
            aiohttp_client,
            settings(db_url, channel_settings={"meituan": channel}, **(hub_settings or {})),
            clock=clock,
            seed=day_seed(capacity),
            receiver=receiver,
        )
