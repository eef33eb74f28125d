"""Fliggy test kit: a hub with the Fliggy channel, the sandbox Fliggy client, the
sandbox TOP gateway for our calls, and an outbox worker the test drives round by round on
the hub's FixedClock (`hub.testing.channel_rig`: backoff without waiting; only attempt
timeouts are real, and short)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.channels import ChannelSpec, load_all
from hub.channels.spec_outbound import Callback
from hub.clock import FixedClock
from hub.testing.channel_rig import ChannelOverride, ChannelRig, serving, with_callbacks
from plugins.channel_fliggy.channel import FliggyChannel
from sandbox.ota.fliggy import SECRETS, FliggyClient, TopGateway
from tests.channel_kit import day_seed
from tests.support import T0, settings

ATTEMPT_SECONDS = 0.4
"""Each TOP call's real per-attempt timeout in these tests (the spec says 10 s)."""


SCHEMES = {"md5": "top_md5", "hmac": "top_hmac_md5", "hmac-sha256": "top_hmac_sha256"}
"""TOP ``sign_method`` → the spec's signing scheme."""


def fast_spec(*, cumulative: bool = False, sign_method: str = "md5") -> ChannelSpec:
    """The shipped spec with short attempts; optionally write_off_type 1, and another TOP
    sign method for our calls (and as the default of Fliggy's)."""

    def change(kind: str, cb: Callback) -> dict[str, Any]:
        verify = {"cumulative": cumulative} if kind == "verify" else {}
        return {"timeout_seconds": ATTEMPT_SECONDS, **verify}

    spec = with_callbacks(load_all()["fliggy"], change)
    if sign_method == "md5":
        return spec
    scheme = {"scheme": SCHEMES[sign_method]}
    out = spec.signing.outbound.model_copy(update=scheme)
    inb = spec.signing.inbound.model_copy(update=scheme)
    signing = spec.signing.model_copy(update={"outbound": out, "inbound": inb})
    return spec.model_copy(update={"signing": signing})


@dataclass
class Rig(ChannelRig):
    partner: ClassVar[str] = "fliggy"
    clock_step_seconds: ClassVar[float] = 700.0
    gateway: TopGateway
    sign_method: str = "md5"

    @property
    def fliggy(self) -> FliggyClient:
        return FliggyClient(self.client, now=self.clock.now, sign_method=self.sign_method)


@asynccontextmanager
async def rig(
    aiohttp_client: Any,
    db_url: str,
    *,
    cumulative: bool = False,
    sign_method: str = "md5",
    capacity: int = 10,
    callbacks: bool = True,
    hub_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Rig]:
    clock = FixedClock(T0)
    gateway = TopGateway(SECRETS["FLIGGY_APP_KEY"], SECRETS["FLIGGY_APP_SECRET"], now=clock.now)
    async with serving(gateway) as url:
        extra = {"FLIGGY_TOP_URL": url} if callbacks else {}
        channel_settings = {"fliggy": {**SECRETS, **extra}}
        channel = FliggyChannel(fast_spec(cumulative=cumulative, sign_method=sign_method))
        yield await Rig.start(
            aiohttp_client,
            settings(db_url, channel_settings=channel_settings, **(hub_settings or {})),
            clock=clock,
            plugins=[ChannelOverride("fliggy", channel)],
            seed=day_seed(capacity),
            gateway=gateway,
            sign_method=sign_method,
        )
