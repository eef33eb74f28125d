"""Demo step: Ctrip sells into the same slots as the box office, through the sandbox Ctrip
client (a–p AES bodies, MD5 sign, Ctrip's retries), and the hub's callbacks reach the
sandbox Ctrip receiver through an outage that heals.

Orders: a pre-order paid later (answered "pending", confirmed by PayPreOrderConfirm), a
direct real-name CreateOrder (CreateOrderConfirm), a cancel by passenger
(CancelOrderConfirm), Ctrip's three identical retries and a duplicated push (byte-identical
answers, stock moved once), a changed replay and a forged sign (refused in Ctrip's codes).
Capacity pushes (DateInventoryModify) follow staff changes. While the callbacks flow,
Ctrip is down — a timeout, then 5xx — and comes back; the summary shows every callback
delivered once and none duplicated.

The runner starts the receiver before the hub (`start_sandbox`), since the hub's Ctrip
settings point at it, and registers `DemoCtripPlugin`: Ctrip's retry schedule compressed
10× (the spec's own schedule would make the demo wait minutes for the outage to heal).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hub.channels import ChannelSpec, load_all
from hub.channels.spec_outbound import Callback
from hub.testing.channel_rig import ChannelOverride, with_callbacks
from plugins.channel_ctrip.adapter import CtripChannel
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.ids import visitor
from sandbox.demo.partners import PartnerSandbox, Sandboxes, until
from sandbox.demo.seed import CABLE, CABLE_SLOTS
from sandbox.ota.ctrip import CtripClient, CtripReceiver

SLOT = "10:00-12:00"  # where Ctrip has its allotment (seed)
PRICE_YUAN = 190
SECRETS = {
    "CTRIP_ACCOUNT_ID": "demo-ctrip",
    "CTRIP_SIGN_KEY": "demo-sign-key-2026",
    "CTRIP_AES_KEY": "demoAesKey16byte",
    "CTRIP_AES_IV": "demoAesIv16bytes",
}
SCALE = 0.1  # Ctrip's retry schedule, compressed for the demo
CALLBACKS = ("PayPreOrderConfirm", "CreateOrderConfirm", "CancelOrderConfirm")


def demo_spec(scale: float = SCALE) -> ChannelSpec:
    """The shipped Ctrip spec with its retry delays (not its limits) scaled down."""

    def change(kind: str, cb: Callback) -> dict[str, Any]:
        r = cb.retry
        retry = r.model_copy(
            update={
                "initial_seconds": r.initial_seconds * scale,
                "max_seconds": r.max_seconds * scale,
                "jitter_seconds": r.jitter_seconds * scale,
            }
        )
        # 5 s per attempt: on a loaded machine (two test suites side by side) a 2 s
        # attempt timed out while Ctrip's answer was on its way, and the resend showed up
        # as a duplicate at the receiver
        update: dict[str, Any] = {"retry": retry, "timeout_seconds": 5.0}
        if cb.coalesce_seconds:
            update["coalesce_seconds"] = 1.0
        return update

    return with_callbacks(load_all()["ctrip"], change)


class DemoCtripPlugin(ChannelOverride):
    """Registers the Ctrip channel on the compressed schedule over the built-in one."""

    def __init__(self) -> None:
        super().__init__("ctrip", CtripChannel(demo_spec()))


_SANDBOXES: Sandboxes[CtripReceiver] = Sandboxes("Ctrip receiver")


async def start_sandbox(hub_port: int) -> PartnerSandbox[CtripReceiver]:
    receiver = CtripReceiver(*(SECRETS[k] for k in SECRETS))
    url = await receiver.start()
    settings = {
        **SECRETS,
        "CTRIP_CALLBACK_URL": url,
        "CTRIP_ASYNC_SERVICES": "PayPreOrder,CreateOrder,CancelOrder",
        "CTRIP_STOCK_WINDOW_SECONDS": "2",  # Ctrip's minute, shortened for the demo
    }
    receiver.stock.window_seconds = 2.0
    return _SANDBOXES.add(hub_port, receiver, settings)


class CtripStep:
    title = "Ctrip (supplier API, callbacks through an outage)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        running = _SANDBOXES.find(ctx, section)
        if running is None:
            return section
        receiver = running.server
        before = Counter(r.service for r in receiver.accepted)
        c = CtripClient(
            base_url=ctx.base_url,
            http=ctx.http,
            account_id=SECRETS["CTRIP_ACCOUNT_ID"],
            sign_key=SECRETS["CTRIP_SIGN_KEY"],
            aes_key=SECRETS["CTRIP_AES_KEY"],
            aes_iv=SECRETS["CTRIP_AES_IV"],
        )
        day = ctx.busy_day.isoformat()

        def order(ota: str, plu: str, quantity: int, **extra: Any) -> dict[str, Any]:
            item = {
                "PLU": plu,
                "quantity": quantity,
                "useStartDate": day,
                "timeSlot": SLOT,
                "price": PRICE_YUAN,
            }
            return {
                "otaOrderId": ota,
                "items": [item],
                "contacts": [{"name": "携程用户", "mobile": "13900001111"}],
                "passengers": extra.pop("passengers", []),
                **extra,
            }

        # Ctrip is down while the callbacks of these orders flow: a timeout, then 5xx
        receiver.fail("timeout", "500", "503")

        held = await c.retry("CreatePreOrder", order("CT-1001", "adult", 2))
        section.expect(
            "Ctrip's 3 retries of CreatePreOrder: one hold, identical answers",
            held[0].ok and len({r.raw for r in held}) == 1,
            held[0].code,
        )
        paid = await c.duplicate(
            "PayPreOrder", {"otaOrderId": "CT-1001", "sequenceId": "pay-1001"}, times=2
        )
        section.expect(
            "PayPreOrder (pushed twice at once) answered pending, identically",
            paid[0].ok
            and paid[0].body.get("supplierConfirmType") == 2
            and paid[0].raw == paid[1].raw,
            paid[0].code,
        )
        if paid[0].ok:
            ctx.sold["adult"] += 2
        people = [visitor(770 + i, 51 + i, ctx.busy_day) for i in range(3)]  # not seen before
        passengers = [
            {"name": p["name"], "cardType": "1", "cardNo": p["id_number"]} for p in people
        ]
        direct = await c.call("CreateOrder", order("CT-1002", "realname", 3, passengers=passengers))
        section.expect("CreateOrder of 3 real-name tickets accepted", direct.ok, direct.code)
        if direct.ok:
            ctx.sold["realname"] += 3
        cancel = await c.call(
            "CancelOrder",
            {
                "otaOrderId": "CT-1002",
                "sequenceId": "cancel-1002",
                "cancelType": 2,
                "passengers": [passengers[1]],
            },
        )
        section.expect("CancelOrder of one named passenger accepted", cancel.ok, cancel.code)
        if cancel.ok:
            ctx.sold["realname"] -= 1
        changed = await c.call("CreateOrder", order("CT-1002", "realname", 2))
        section.expect("a changed replay is refused (1101)", changed.code == "1101", changed.code)
        forged = await CtripClient(
            base_url=ctx.base_url,
            http=ctx.http,
            account_id=SECRETS["CTRIP_ACCOUNT_ID"],
            sign_key="not-the-key",
            aes_key=SECRETS["CTRIP_AES_KEY"],
            aes_iv=SECRETS["CTRIP_AES_IV"],
        ).call("CreateOrder", order("CT-1003", "adult", 1))
        section.expect("a forged sign is refused (0002)", forged.code == "0002", forged.code)
        for code in (changed.code, forged.code):
            if code != "0000":
                ctx.denied[f"ctrip:{code}"] += 1

        # staff re-set the cable-car capacity: Ctrip's stock mirror is told, batched
        first, last = ctx.week[0].isoformat(), ctx.week[-1].isoformat()
        await ctx.admin.put_inventory(CABLE, first, last, CABLE_SLOTS)

        def landed() -> bool:
            got = Counter(r.service for r in receiver.accepted)
            return all(got[s] - before[s] >= 1 for s in CALLBACKS) and (
                got["DateInventoryModify"] - before["DateInventoryModify"] >= 1
            )

        # past one circuit-breaker cooldown (30 s): under load the outage's failures can
        # open Ctrip's breaker, and the calls then wait it out before they land
        healed = await until(landed, timeout=75.0)
        got = Counter(r.service for r in receiver.accepted)
        delivered = {s: got[s] - before[s] for s in (*CALLBACKS, "DateInventoryModify")}
        section.expect(
            "every callback delivered after Ctrip's outage healed", healed, str(delivered)
        )
        section.expect(
            "no callback duplicated at Ctrip", not receiver.duplicates, str(receiver.duplicates)
        )
        confirm = next(iter(receiver.of("PayPreOrderConfirm")), None)
        section.expect(
            "PayPreOrderConfirm reuses the sequenceId of the PayPreOrder it confirms",
            confirm is not None and confirm.body.get("sequenceId") == "pay-1001",
        )
        section.fact(
            "Ctrip calls refused during the outage",
            sum(receiver.attempts.values()) - len(receiver.accepted),
        )
        section.fact("callbacks delivered", ", ".join(f"{k} {v}" for k, v in delivered.items()))
        section.fact("callbacks duplicated", len(receiver.duplicates))
        return section
