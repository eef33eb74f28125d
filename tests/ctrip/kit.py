"""Ctrip test kit: a hub with the Ctrip channel, the sandbox Ctrip client, the sandbox
Ctrip callback receiver, and an outbox worker the test drives round by round on the
hub's FixedClock (`hub.testing.channel_rig`: backoff without waiting; only attempt
timeouts are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp.test_utils import TestClient

from hub.channels import ChannelSpec, load_all
from hub.channels.spec_outbound import Callback
from hub.clock import FixedClock
from hub.testing.channel_rig import ChannelOverride, ChannelRig, serving, with_callbacks
from plugins.channel_ctrip.adapter import CtripChannel
from sandbox.ota.ctrip import CtripClient, CtripReceiver
from tests.channel_kit import day_seed
from tests.support import T0, TOMORROW, hub_client, id_number, seed, settings

SECRETS = {
    "CTRIP_ACCOUNT_ID": "acct-1",
    "CTRIP_SIGN_KEY": "sign-key-123",
    "CTRIP_AES_KEY": "0123456789abcdef",
    "CTRIP_AES_IV": "fedcba9876543210",
}
ATTEMPT_SECONDS = 0.4
"""Each callback's real per-attempt timeout in these tests (the spec says 10 s)."""


INVENTORY_ATTEMPT_SECONDS = 5.0
"""DateInventoryModify reads the stock of every day and product before it sends: on a
shared CI machine that needs more than the other callbacks' short attempt."""


def fast_spec(rate_per_minute: int | None = None) -> ChannelSpec:
    """The shipped Ctrip spec with short attempt timeouts (and optionally a rate)."""

    def change(kind: str, cb: Callback) -> dict[str, Any]:
        seconds = INVENTORY_ATTEMPT_SECONDS if kind == "DateInventoryModify" else ATTEMPT_SECONDS
        update: dict[str, Any] = {"timeout_seconds": seconds}
        if rate_per_minute is not None and cb.rate_per_minute:
            update["rate_per_minute"] = rate_per_minute
        return update

    return with_callbacks(load_all()["ctrip"], change)


async def ctrip_hub(aiohttp_client: Any, db_url: str, capacity: int = 10) -> TestClient:
    """A hub with Ctrip configured for inbound calls only (no callback URL)."""
    client = await hub_client(aiohttp_client, db_url, channel_settings={"ctrip": SECRETS})
    await seed(client, capacity=capacity, slots=("",))
    return client


def ctrip(client: TestClient, **over: str) -> CtripClient:
    keys = {
        "account_id": SECRETS["CTRIP_ACCOUNT_ID"],
        "sign_key": SECRETS["CTRIP_SIGN_KEY"],
        "aes_key": SECRETS["CTRIP_AES_KEY"],
        "aes_iv": SECRETS["CTRIP_AES_IV"],
    }
    return CtripClient(base_url="", http=client, **{**keys, **over})


def order(ota: str, plu: str = "adult", quantity: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "otaOrderId": ota,
        "items": [
            {"PLU": plu, "quantity": quantity, "useStartDate": TOMORROW.isoformat(), "price": 100}
        ],
        "contacts": [{"name": "Li Lei", "mobile": "13800000000"}],
        "passengers": [],
    }
    body.update(over)
    return body


def id_passengers(n: int, first: int = 100) -> list[dict[str, Any]]:
    """``n`` real-name passengers with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "cardType": "1", "cardNo": id_number(seq=first + i)}
        for i in range(n)
    ]


@dataclass
class CallbackRig(ChannelRig):
    """A hub whose Ctrip callbacks go to a sandbox receiver, and the worker to land them."""

    partner: ClassVar[str] = "ctrip"
    clock_step_seconds: ClassVar[float] = 700.0
    receiver: CtripReceiver

    @property
    def ctrip(self) -> CtripClient:
        return ctrip(self.client)


@asynccontextmanager
async def callback_rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    async_services: str = "PayPreOrder,CreateOrder,CancelOrder,RefundOrder",
    rate_per_minute: int | None = None,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    **hub_settings: Any,
) -> AsyncIterator[CallbackRig]:
    receiver = CtripReceiver(
        SECRETS["CTRIP_ACCOUNT_ID"],
        SECRETS["CTRIP_SIGN_KEY"],
        SECRETS["CTRIP_AES_KEY"],
        SECRETS["CTRIP_AES_IV"],
    )
    clock = FixedClock(T0)
    # Ctrip's stock limits timed by the hub's clock from the first push on: a book
    # whose timer a test swapped in later held real-monotonic stamps for the resources
    # pushed before (the seed's) and the FixedClock's for the others.
    receiver.stock.timer = lambda: clock.now().timestamp()
    async with serving(receiver) as url:
        channel = {
            **SECRETS,
            "CTRIP_CALLBACK_URL": url,
            "CTRIP_ASYNC_SERVICES": async_services,
            **(extra or {}),
        }
        yield await CallbackRig.start(
            aiohttp_client,
            settings(db_url, channel_settings={"ctrip": channel}, **hub_settings),
            clock=clock,
            plugins=[ChannelOverride("ctrip", CtripChannel(fast_spec(rate_per_minute)))],
            seed=day_seed(capacity),
            receiver=receiver,
        )
