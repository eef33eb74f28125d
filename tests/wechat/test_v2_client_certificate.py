"""WeChat Pay v2 refunds go to ``/secapi``, which needs the merchant's API certificate (a
TLS client certificate): the simulator serves it over TLS on loopback with a test CA and
refuses the handshake without a certificate from that CA. A refund the hub cannot deliver
so stays in the outbox, retried, with the reason — it is never lost, never half-sent."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import select

from hub.storage.tables import OutboxRow
from tests.wechat.kit import SLOT, World, eventually, start


async def paid_and_refunded(w: World, openid: str) -> str:
    mp = await w.visitor(openid)
    created = await mp.order(f"ck-{openid}-001", "adult", w.day, SLOT, 1)
    assert created.status == 201, created
    out_trade = created.body["order"]["out_trade_no"]
    assert (await (await w.pay(created)).wait()).acknowledged
    assert (await mp.refund(out_trade, "rq-1")).ok
    return out_trade


async def refund_call(w: World) -> tuple[str, int, str]:
    t = OutboxRow.__table__.c
    async with w.hub.engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.state, t.attempts, t.last_error).where(
                    t.partner == "wechat", t.kind == "refund"
                )
            )
        ).one()
    return str(row.state), int(row.attempts), str(row.last_error or "")


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        ("impostor", "TLS"),  # a certificate not from WeChat's CA: the handshake fails
        ("none", "NO_CLIENT_CERT"),  # none configured: not even tried, and said so
    ],
)
async def test_a_refund_without_the_merchant_certificate_waits_in_the_outbox(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, cert: str, reason: str
) -> None:
    w = await start(aiohttp_client, db_url, stack, pay_version="v2", tls=cert)
    out_trade = await paid_and_refunded(w, "o-rita")

    async def tried() -> bool:
        return (await refund_call(w))[1] >= 1

    await eventually(tried)
    state, attempts, error = await refund_call(w)
    assert state == "pending" and reason in error, (state, attempts, error)
    assert w.refunds(out_trade) == []  # WeChat never saw it
    if cert == "impostor":
        assert "certificate" in error.lower()
    assert w.sim.v2.refused_certificates == 0  # refused in the handshake, not in HTTP


async def test_the_waiting_refund_goes_out_once_the_certificate_is_set(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    """The operator sets the certificate and restarts the hub: the refund queued without
    it reaches WeChat, once."""
    before = await start(aiohttp_client, db_url, stack, pay_version="v2", tls="none")
    out_trade = await paid_and_refunded(before, "o-sam")

    async def tried() -> bool:
        return (await refund_call(before))[1] >= 1

    await eventually(tried)
    await before.client.close()  # the hub stops ...
    assert before.pki is not None
    after = await start(  # ... and comes back with the certificate (PKCS#12)
        aiohttp_client,
        db_url,
        stack,
        merchant=before,
        extra=before.pki.client_settings("p12"),
    )
    (refund,) = await after.settled_refunds(out_trade, 1)
    assert refund.api == "v2" and refund.refund == refund.total

    async def done() -> bool:  # WeChat settles before it answers; the hub records after
        return (await refund_call(after))[0] == "done"

    await eventually(done)
