"""Demo step: Fliggy sells into the same slots as the box office, and TOP hears back.

The sandbox Fliggy (`sandbox.ota.fliggy`) posts paid orders signed TOP-style to the hub
over real HTTP — one pushed twice at once, as Fliggy's duplicated pushes do — queries
one, cancels one and asks a refund for another. A changed replay and a forged signature
are refused in Fliggy's codes. Our ``taobao.travel.ticket.order.refund`` calls go out
through the outbox to the sandbox TOP gateway (`start_sandbox`, started by the runner
next to the hub), which is DOWN for the first attempts (HTTP 500, a timeout after it
applied the call, TOP's ``isp`` "service unavailable") and then heals: every call lands,
and the one TOP applied before its answer was lost is not applied twice (``serial_num``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sandbox.demo.context import DemoContext, Section
from sandbox.demo.partners import PartnerSandbox, Sandboxes, until
from sandbox.ota.fliggy import FliggyClient, TopGateway, booking

SLOT = "14:00-16:00"
PRODUCT = "adult"
UNIT_PRICE = 19000  # the seed's adult price, in fen
TIME_SCALE = "0.05"  # the TOP calls' schedule compressed 20x (attempt 0.5 s, retry 0.25 s)
REFUND = "taobao.travel.ticket.order.refund"


_SANDBOXES: Sandboxes[TopGateway] = Sandboxes("sandbox Fliggy")


async def start_sandbox(hub_port: int) -> PartnerSandbox[TopGateway]:
    """Start the sandbox TOP gateway on a free loopback port; its settings (fresh app key
    and secret, the gateway's URL) go into ``channel_settings["fliggy"]``."""
    settings = {
        "FLIGGY_APP_KEY": f"demo-{secrets.token_hex(4)}",
        "FLIGGY_APP_SECRET": secrets.token_hex(16),
        "FLIGGY_CALLBACK_TIME_SCALE": TIME_SCALE,
    }
    gateway = TopGateway(settings["FLIGGY_APP_KEY"], settings["FLIGGY_APP_SECRET"])
    settings["FLIGGY_TOP_URL"] = await gateway.start()
    return _SANDBOXES.add(hub_port, gateway, settings)


class FliggyStep:
    title = "Fliggy (TOP-signed paid orders, cancel and refund reported to TOP through an outage)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        running = _SANDBOXES.find(ctx, section)
        if running is None:
            return section
        s, gateway = running.settings, running.server
        fliggy = FliggyClient(
            ctx.http,
            app_key=s["FLIGGY_APP_KEY"],
            secret=s["FLIGGY_APP_SECRET"],
            base_url=ctx.base_url,
        )
        run = datetime.now(UTC).strftime("%H%M%S")

        def order(n: int, quantity: int = 2) -> dict[str, object]:
            return booking(
                f"FZ{run}{n:03d}",
                product=PRODUCT,
                day=ctx.busy_day,
                quantity=quantity,
                price=UNIT_PRICE,
                time_slot=SLOT,
            )

        pushed = await fliggy.duplicate("create", order(0))
        created = [pushed[0]] + [await fliggy.call("create", order(n)) for n in range(1, 5)]
        section.expect(
            "5 paid Fliggy orders issued in the box office's slots (one pushed twice at once)",
            all(c.ok for c in created) and pushed[1].data == pushed[0].data,
            str([c.code for c in created]),
        )
        ctx.sold[PRODUCT] += 10
        changed = await fliggy.call("create", order(0, quantity=3))
        forged = await fliggy.send(fliggy.build("create", order(9), secret="not-the-secret"))
        section.expect("a changed replay is refused (2009)", changed.code == "2009", changed.code)
        section.expect("a forged signature is refused (1002)", forged.code == "1002", forged.code)
        for refused in (changed, forged):
            ctx.denied[f"fliggy {refused.code}"] += 1

        # TOP goes down just as the refunds come in: HTTP 500, then an answer lost after
        # TOP applied the call, then "isp" trouble; the outbox retries until it heals.
        gateway.fail("500", "timeout", "top:15:isp.remote-service-unavailable")
        cancel = await fliggy.call("cancel", {"order_id": order(1)["order_id"]})
        refund = await fliggy.call(
            "refund", {"order_id": order(2)["order_id"], "refund_id": f"RF{run}"}
        )
        section.expect(
            "a cancel and a refund answered at once (4 units back in stock)",
            cancel.ok and refund.ok,
            f"{cancel.code} {refund.code}",
        )
        ctx.sold[PRODUCT] -= 4
        ids = [str(order(n)["order_id"]) for n in (1, 2)]
        landed = await until(lambda: all(gateway.refund_status.get(i) for i in ids), timeout=20.0)
        section.expect(
            "both refund results reached TOP through the outage, none applied twice",
            landed and all(gateway.refund_status[i] == [1] for i in ids),
            f"{len(gateway.of(REFUND))} accepted after {gateway.attempts[REFUND]} attempts",
        )
        query = await fliggy.call("query", {"order_id": order(0)["order_id"]})
        section.fact("orders", "5 paid, 1 cancelled, 1 refunded")
        section.fact(
            "TOP refund calls",
            f"{len(gateway.of(REFUND))} accepted after {gateway.attempts[REFUND]} attempts "
            f"({len(gateway.duplicates)} repeat recognised by serial_num), signed "
            f"{dict(gateway.sign_methods)}",
        )
        section.fact(
            "order 1 seen by Fliggy",
            f"{query.data['status']}, {query.data['quantity']} vouchers" if query.ok else "?",
        )
        return section
