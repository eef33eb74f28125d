"""Douyin test kit: a hub with the Douyin channel, the sandbox Douyin (SPI caller and
fulfilment OpenAPI), and an outbox worker the test drives round by round on the hub's
FixedClock (`hub.testing.channel_rig`: backoff without waiting; only attempt timeouts
are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.channels import ChannelSpec, load_all
from hub.clock import FixedClock
from hub.testing.channel_rig import ChannelOverride, ChannelRig, serving, with_callbacks
from plugins.channel_douyin.channel import DouyinChannel
from sandbox.ota.douyin import DouyinClient, DouyinOpenApi
from tests.channel_kit import day_seed
from tests.support import T0, TOMORROW, id_number, settings

SECRETS = {"DOUYIN_CLIENT_KEY": "awk-test-key", "DOUYIN_CLIENT_SECRET": "test-client-secret"}
ATTEMPT_SECONDS = 0.4
"""Each OpenAPI call's real per-attempt timeout in these tests (the spec says 10 s): what
a test whose sandbox does not answer waits out, once per such fault."""


def fast_spec(attempt_seconds: float = ATTEMPT_SECONDS) -> ChannelSpec:
    short = {"timeout_seconds": attempt_seconds}
    return with_callbacks(load_all()["douyin"], lambda kind, cb: short)


def tourists(n: int, first: int = 100) -> list[dict[str, Any]]:
    """``n`` real-name tourists with valid, distinct mainland ID numbers."""
    return [
        {"name": f"Visitor {i}", "id_type": 1, "id_no": id_number(seq=first + i)} for i in range(n)
    ]


def order(oid: str, sku: str = "adult", count: int = 1, **over: Any) -> dict[str, Any]:
    """A Douyin create_order body (field names: the plugin's ``douyin.toml`` [mapping])."""
    body: dict[str, Any] = {
        "order_id": oid,
        "sku_id": sku,
        "count": count,
        "use_date": TOMORROW.isoformat(),
        "unit_price": 10000,
        "tourists": [],
    }
    body.update(over)
    return body


@dataclass
class Rig(ChannelRig):
    """A hub whose Douyin callbacks go to the sandbox OpenAPI, and the worker to land them."""

    partner: ClassVar[str] = "douyin"
    douyin_api: DouyinOpenApi
    channel: DouyinChannel

    def douyin(self, **over: Any) -> DouyinClient:
        keys = {
            "client_key": SECRETS["DOUYIN_CLIENT_KEY"],
            "client_secret": SECRETS["DOUYIN_CLIENT_SECRET"],
        }
        return DouyinClient(
            http=self.client,
            now_ms=lambda: int(self.clock.now().timestamp() * 1000),
            **{**keys, **over},
        )


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    capacity: int = 10,
    extra: dict[str, Any] | None = None,
    attempt_seconds: float = ATTEMPT_SECONDS,
    **hub_settings: Any,
) -> AsyncIterator[Rig]:
    """`attempt_seconds`: a test that plans no unanswered call gives a normal one all the
    time a loaded machine may take (its asserts count attempts and tokens)."""
    api = DouyinOpenApi(
        SECRETS["DOUYIN_CLIENT_KEY"], SECRETS["DOUYIN_CLIENT_SECRET"], hang_seconds=1.0
    )
    async with serving(api) as url:
        channel_settings = {
            "douyin": {
                **SECRETS,
                "DOUYIN_OPENAPI_URL": url,
                "DOUYIN_POI_ID": "poi-1",
                **(extra or {}),
            }
        }
        channel = DouyinChannel(fast_spec(attempt_seconds))
        yield await Rig.start(
            aiohttp_client,
            settings(db_url, channel_settings=channel_settings, **hub_settings),
            clock=FixedClock(T0),
            plugins=[ChannelOverride("douyin", channel)],
            seed=day_seed(capacity),
            douyin_api=api,
            channel=channel,
        )
