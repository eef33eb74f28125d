"""Demo step: Meituan sells into the same slots as the box office, and hears back.

The sandbox Meituan (`sandbox.ota.meituan`) posts MWS-signed orders to the hub over real
HTTP — some plain, one with the global encryption — pays them (the answer carries the
vouchers), closes one unpaid, and asks for refunds. A replay gets the first answer, a
changed replay and a forged call are refused in Meituan's codes. The refund notices go
out through the outbox to the sandbox Meituan receiver (`start_sandbox`, started by the
runner next to the hub), which is DOWN for the first attempts (HTTP 500, a timeout, a
599 "system error") and then heals: every notice lands, none twice.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sandbox.demo.context import DemoContext, Section
from sandbox.demo.partners import PartnerSandbox, Sandboxes, until
from sandbox.ota.meituan import (
    CLOSE,
    CREATE,
    PAY,
    QUERY,
    REFUND,
    MeituanClient,
    MeituanReceiver,
    MeituanRequest,
)

SLOT = "12:00-14:00"
PRODUCT = "adult"
UNIT_PRICE = "190.00"  # the seed's adult price, in yuan as Meituan sends it
TIME_SCALE = "0.05"  # the notices' schedule compressed 20x (attempt 0.5 s, first retry 0.25 s)


_SANDBOXES: Sandboxes[MeituanReceiver] = Sandboxes("sandbox Meituan")


async def start_sandbox(hub_port: int) -> PartnerSandbox[MeituanReceiver]:
    """Start the sandbox Meituan's notice receiver on a free loopback port; its
    settings (fresh secrets, the receiver's URL) go into ``channel_settings["meituan"]``."""
    settings = {
        "MEITUAN_PARTNER_ID": "demo-meituan-partner",
        "MEITUAN_CLIENT_ID": "demo-meituan-client",
        "MEITUAN_CLIENT_SECRET": secrets.token_hex(16),
        "MEITUAN_AES_KEY": secrets.token_hex(8),
        "MEITUAN_CALLBACK_TIME_SCALE": TIME_SCALE,
    }
    receiver = MeituanReceiver(
        settings["MEITUAN_PARTNER_ID"],
        settings["MEITUAN_CLIENT_ID"],
        settings["MEITUAN_CLIENT_SECRET"],
        settings["MEITUAN_AES_KEY"],
    )
    settings["MEITUAN_CALLBACK_URL"] = await receiver.start()
    return _SANDBOXES.add(hub_port, receiver, settings)


class MeituanStep:
    title = "Meituan (MWS-signed orders, vouchers, refunds, notices through an outage)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        running = _SANDBOXES.find(ctx, section)
        if running is None:
            return section
        s, receiver = running.settings, running.server
        mt = MeituanClient(
            partner_id=s["MEITUAN_PARTNER_ID"],
            client_id=s["MEITUAN_CLIENT_ID"],
            client_secret=s["MEITUAN_CLIENT_SECRET"],
            aes_key=s["MEITUAN_AES_KEY"],
            http=ctx.http,
            base_url=ctx.base_url,
            now=lambda: datetime.now(UTC),
        )
        day = ctx.busy_day.isoformat()
        run = datetime.now(UTC).strftime("%H%M%S")

        def order(n: int, quantity: int = 2) -> dict[str, Any]:
            return {
                "orderId": f"MT{run}{n:03d}",
                "partnerDealId": PRODUCT,
                "quantity": quantity,
                "travelDate": day,
                "timeSlot": SLOT,
                "unitPrice": UNIT_PRICE,
                "contactPerson": {"name": "美团游客", "mobile": "13700000000"},
                "visitors": [],
            }

        # Six orders held (one sent with the global encryption), then paid or closed.
        created = [await mt.call(CREATE, order(n), encrypt=n == 5) for n in range(6)]
        section.expect(
            "6 Meituan orders held in the box office's slots (one encrypted both ways)",
            all(c.ok for c in created) and created[5].encrypted,
            str([c.code for c in created]),
        )
        replay = await mt.call(CREATE, order(0))
        section.expect("a replayed create returns the existing order", replay.raw == created[0].raw)
        changed = await mt.call(CREATE, order(0, quantity=3))
        genuine = mt.build(CREATE, order(9))
        headers = {**genuine.headers, "Authorization": "MWS demo-meituan-client:Zm9yZ2Vk"}
        forged = await mt.send(MeituanRequest(genuine.path, genuine.data, headers))
        section.expect("a changed replay is refused (507)", changed.code == "507", changed.code)
        section.expect("a forged signature is refused (401)", forged.code == "401", forged.code)
        for refused in (changed, forged):
            ctx.denied[f"meituan {refused.code}"] += 1

        paid = [await mt.call(PAY, {"orderId": order(n)["orderId"]}) for n in range(5)]
        vouchers = sum(len(p.body.get("vouchers", [])) for p in paid if p.ok)
        section.expect("5 orders paid, 10 vouchers issued", vouchers == 10, str(vouchers))
        closed = await mt.call(CLOSE, {"orderId": order(5)["orderId"]})
        section.expect("the unpaid order is closed, its hold released", closed.ok, closed.code)
        ctx.sold[PRODUCT] += 10

        # Meituan goes down just as the refunds come in: its notice endpoint answers 500,
        # then nothing, then "system error"; the outbox retries until it heals.
        receiver.fail("500", "timeout", "code:599")
        refunds = [
            await mt.call(REFUND, {"orderId": order(0)["orderId"], "refundId": f"R{run}-1"}),
            await mt.call(
                REFUND,
                {"orderId": order(1)["orderId"], "refundId": f"R{run}-2", "refundQuantity": 1},
            ),
        ]
        again = await mt.call(
            REFUND, {"orderId": order(1)["orderId"], "refundId": f"R{run}-2", "refundQuantity": 1}
        )
        section.expect(
            "a full and a partial refund answered at once (3 units back in stock)",
            all(r.ok for r in refunds) and again.raw == refunds[1].raw,
            str([r.code for r in refunds]),
        )
        ctx.sold[PRODUCT] -= 3
        landed = await until(lambda: len(receiver.of("refund")) >= 2, timeout=20.0)
        notices = receiver.of("refund")
        section.expect(
            "both refund notices delivered through the outage, none twice",
            landed and len(notices) == 2 and not receiver.duplicates,
            f"{len(notices)} delivered after {receiver.hits} attempts",
        )
        query = await mt.call(QUERY, {"orderId": order(1)["orderId"]})
        section.fact("orders", "6 held, 5 paid, 1 closed, 2 refunded (1 in part)")
        section.fact("refund notices", f"{len(notices)} landed after {receiver.hits} attempts")
        section.fact(
            "order 2 seen by Meituan",
            f"{query.body['orderStatus']}, refunded {query.body['refundedQuantity']} of "
            f"{query.body['quantity']}",
        )
        return section
