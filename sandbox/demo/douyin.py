"""Demo step: Douyin (抖音来客) sells into the same slots as the box office, through the
sandbox Douyin (`sandbox.ota.douyin`): every SPI call carries Douyin's query
``timestamp`` and its sha256 ``x-life-sign`` (one uses the legacy md5 ``sign``).

Orders: ``can_buy`` then ``create_order`` re-sent by Douyin (its retries, re-signed a
moment later: one hold, one ``out_order_id``), ``pay_notify`` issuing the vouchers, a
real-name order partly refunded through ``refund_audit`` and ``refund_notify``, an unpaid
order cancelled by ``cancel_notify``, and refusals in Douyin's codes (a forged
signature, a changed replay, a stale request).

The runner starts the sandbox Douyin OpenAPI next to the hub (`start_sandbox`) so the
hub's certificate verify calls are configured, and imports the vouchers each payment
issues (as Douyin does for supplier codes); a verify fires when a gate admits a Douyin
voucher, which this step does not do (the demo has no gate step yet).
"""

from __future__ import annotations

import secrets

from sandbox.demo.context import DemoContext, Section
from sandbox.demo.ids import visitor
from sandbox.demo.partners import PartnerSandbox, Sandboxes
from sandbox.ota.douyin import DouyinClient, DouyinOpenApi

SLOT = "14:00-16:00"
PRICE_FEN = 19000  # the seed's adult and real-name price


_SANDBOXES: Sandboxes[DouyinOpenApi] = Sandboxes("sandbox Douyin")


async def start_sandbox(hub_port: int) -> PartnerSandbox[DouyinOpenApi]:
    """Start the sandbox Douyin OpenAPI on a free loopback port; its settings (fresh
    client credentials, the OpenAPI URL) go into ``channel_settings["douyin"]``."""
    settings = {
        "DOUYIN_CLIENT_KEY": "awk-demo-" + secrets.token_hex(4),
        "DOUYIN_CLIENT_SECRET": secrets.token_hex(16),
        "DOUYIN_POI_ID": "demo-poi-huangshan",
    }
    api = DouyinOpenApi(settings["DOUYIN_CLIENT_KEY"], settings["DOUYIN_CLIENT_SECRET"])
    settings["DOUYIN_OPENAPI_URL"] = await api.start()
    return _SANDBOXES.add(hub_port, api, settings)


class DouyinStep:
    title = "Douyin 抖音来客 (signed SPIs, Douyin's retries, refund audit)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        running = _SANDBOXES.find(ctx, section)
        if running is None:
            return section
        key, secret = (running.settings[k] for k in ("DOUYIN_CLIENT_KEY", "DOUYIN_CLIENT_SECRET"))
        d = DouyinClient(key, secret, http=ctx.http, base_url=ctx.base_url)
        day = ctx.busy_day.isoformat()

        def order(oid: str, sku: str, count: int, tourists: list[dict[str, object]]) -> dict:
            return {
                "order_id": oid,
                "sku_id": sku,
                "count": count,
                "use_date": day,
                "time_slot": SLOT,
                "unit_price": PRICE_FEN,
                "tourists": tourists,
            }

        can = await d.call("can_buy", order("DY-3001", "adult", 2, []))
        section.expect("can_buy for 2 adults: yes, nothing held", can.ok, str(can.code))
        created = [await d.call("create_order", order("DY-3001", "adult", 2, [])) for _ in range(3)]
        ids = {r.data.get("out_order_id") for r in created if r.ok}
        section.expect(
            "Douyin's 3 tries of create_order: one hold, one out_order_id",
            all(r.ok for r in created) and len(ids) == 1,
            ", ".join(str(r.code) for r in created),
        )
        paid = await DouyinClient(
            key, secret, http=ctx.http, base_url=ctx.base_url, scheme="md5"
        ).call("pay_notify", {"order_id": "DY-3001"})
        section.expect(
            "pay_notify (legacy md5 sign) issues 2 vouchers",
            paid.ok and len(paid.data.get("codes", [])) == 2,
            str(paid.code),
        )
        if paid.ok:
            ctx.sold["adult"] += 2
            for voucher in paid.data["codes"]:  # Douyin imports the supplier's codes
                running.server.issue(voucher["code"])

        people = [visitor(880 + i, 33 + i, ctx.busy_day) for i in range(3)]
        tourists: list[dict[str, object]] = [
            {"name": p["name"], "id_type": 1, "id_no": p["id_number"], "phone": p["phone"]}
            for p in people
        ]
        real = await d.call("create_order", order("DY-3002", "realname", 3, tourists))
        real_paid = await d.call("pay_notify", {"order_id": "DY-3002"}) if real.ok else real
        section.expect("a real-name order of 3 is paid", real_paid.ok, str(real_paid.code))
        if real_paid.ok:
            ctx.sold["realname"] += 3
            for voucher in real_paid.data["codes"]:
                running.server.issue(voucher["code"])
        audit = {"order_id": "DY-3002", "after_sale_id": "AS-1", "count": 1}
        approved = await d.call("refund_audit", audit)
        section.expect(
            "refund_audit of 1 voucher approved by the rules",
            approved.ok and approved.data.get("audit_result") == 1,
            str(approved.code),
        )
        if approved.ok and approved.data.get("audit_result") == 1:
            ctx.sold["realname"] -= 1
        result = await d.call(
            "refund_notify", {"order_id": "DY-3002", "after_sale_id": "AS-1", "status": 1}
        )
        section.expect(
            "refund_notify: 1 voucher refunded",
            result.ok and result.data.get("refunded_count") == 1,
            str(result.code),
        )

        unpaid = await d.call("create_order", order("DY-3003", "adult", 1, []))
        cancelled = await d.call("cancel_notify", {"order_id": "DY-3003", "cancel_type": 1})
        section.expect(
            "cancel_notify (before payment) releases the hold",
            unpaid.ok and cancelled.ok and cancelled.data.get("order_status") == "cancelled",
            str(cancelled.code),
        )

        refusals = {
            "forged": await DouyinClient(
                key, "not-the-secret", http=ctx.http, base_url=ctx.base_url
            ).call("create_order", order("DY-3004", "adult", 1, [])),
            "changed replay": await d.call("create_order", order("DY-3001", "adult", 3, [])),
            "stale": await d.send(
                d.build(
                    "create_order",
                    order("DY-3005", "adult", 1, []),
                    timestamp=d.now_ms() - 3600_000,
                )
            ),
        }
        for what, reply in refusals.items():
            section.expect(
                f"{what} request refused (999999)", reply.code == 999999, str(reply.code)
            )
            ctx.denied[f"douyin:{reply.code}"] += 1
        q = await d.call("query", {"order_ids": ["DY-3001", "DY-3002", "DY-3003"]})
        states = [o.get("order_status") for o in q.data.get("orders", [])] if q.ok else []
        section.expect(
            "query shows confirmed, confirmed (1 refunded), cancelled",
            states == ["confirmed", "confirmed", "cancelled"],
            str(states),
        )
        section.fact("vouchers issued", 5 if paid.ok and real_paid.ok else "?")
        section.fact("Douyin OpenAPI tokens fetched so far", running.server.tokens_issued)
        return section
