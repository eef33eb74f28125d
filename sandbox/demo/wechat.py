"""Demo step: visitors in the WeChat mini-program, paying with WeChat Pay (API v3),
against the WeChat simulator (`sandbox.wechat`) running next to the hub.

Logins through ``jscode2session``; paid orders whose notices WeChat delivers twice at
once after a deliberately mis-signed probe; a notice that arrives late, after the visitor
cancelled, which the hub refunds on its own (and tells the visitor); a refund; a forged
notice refused. The runner starts the simulator before the hub (`start_sandbox`), since
the hub's WeChat settings point at it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from hub.testing.processes import free_port
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.ids import visitor
from sandbox.demo.wechat_client import MiniProgramClient, Reply
from sandbox.wechat.keys import generate_merchant_setup, new_rsa_key, sign_lines
from sandbox.wechat.server import WeChatSimulator

SLOT = "14:00-16:00"
LATE_SECONDS = 1.0  # how late WeChat delivers the notice of the cancelled order


@dataclass
class DemoWeChat:
    """The running simulator and the hub-side settings that point at it."""

    sim: WeChatSimulator
    settings: dict[str, str]
    _cm: Any

    async def stop(self) -> None:
        await self._cm.__aexit__(None, None, None)


_RUNNING: dict[int, DemoWeChat] = {}  # hub port → its WeChat, for the step to find


async def start_sandbox(hub_port: int) -> DemoWeChat:
    """Start the simulator on a free loopback port (WeChat's retry schedule compressed
    1000×); its settings go into the hub's ``channel_settings["wechat"]``."""
    setup = generate_merchant_setup(time_scale=0.001)
    sim = WeChatSimulator(setup.config, refund_settle_seconds=1.0)
    cm = sim.running("127.0.0.1", free_port())
    await cm.__aenter__()
    settings = sim.hub_settings(setup.settings, notify_base=f"http://127.0.0.1:{hub_port}")
    running = DemoWeChat(sim, settings, cm)
    _RUNNING[hub_port] = running
    return running


def running_wechat(ctx: DemoContext) -> DemoWeChat | None:
    """The simulator the runner started for this hub (None when it did not)."""
    return _RUNNING.get(int(ctx.base_url.rsplit(":", 1)[1]))


async def _until(check: Any, timeout: float = 20.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        return False
    return True


class WeChatStep:
    title = "WeChat mini-program (login, WeChat Pay v3, notices, refunds)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        port = int(ctx.base_url.rsplit(":", 1)[1])
        wx = _RUNNING.get(port)
        if wx is None:
            section.expect("WeChat simulator running next to the hub", False, "not started")
            return section
        sim, day = wx.sim, ctx.busy_day.isoformat()

        async def login(openid: str) -> MiniProgramClient:
            mp = MiniProgramClient(ctx.http, ctx.base_url)
            await mp.login(sim.issue_js_code(openid))
            return mp

        people = {name: await login(f"o-demo-{name}") for name in ("lin", "zhou", "xu")}
        section.expect("3 visitors log in", all(mp.token for mp in people.values()))

        def names(first: int, n: int) -> list[dict[str, str]]:
            return [visitor(7000 + first + i, 30, ctx.busy_day) for i in range(n)]

        async def buy(mp: MiniProgramClient, key: str, n: int, first: int) -> Reply:
            reply = await mp.order(key, "realname", day, SLOT, n, names(first, n))
            if reply.status != 201:
                ctx.denied[reply.code] += 1
            return reply

        async def pay(reply: Reply, **options: Any) -> Any:
            params = {"appId": sim.config.appid, **reply.body["payment"]}
            return await sim.pay(reply.order["out_trade_no"], pay_sign_params=params, **options)

        # Lin and Zhou pay; WeChat probes with a bad signature, then sends each notice twice
        # at once, as from two of its servers.
        lin = await buy(people["lin"], "demo-lin-0001", 3, 0)
        zhou = await buy(people["zhou"], "demo-zhou-001", 2, 10)
        section.expect("orders held with wx.requestPayment params", lin.ok and zhou.ok)
        notices = [await pay(r, copies=2, concurrent=True, probe=True) for r in (lin, zhou)]
        for n in notices:
            await n.wait(20)
        section.expect("probes with a bad signature refused", all(n.probe_refused for n in notices))
        section.expect(
            "every copy of each notice acknowledged (204)",
            all(n.acknowledged and {a.status for a in n.deliveries} == {204} for n in notices),
        )
        views = [
            await people[p].get(r.order["out_trade_no"]) for p, r in (("lin", lin), ("zhou", zhou))
        ]
        tickets = [len(v.order.get("tickets", [])) for v in views]
        section.expect(
            "each paid order confirmed once, with its QR tickets",
            [v.order.get("state") for v in views] == ["confirmed", "confirmed"]
            and tickets == [3, 2],
            f"tickets {tickets}",
        )
        ctx.sold["realname"] += 5

        # Xu pays, but WeChat's notice is late; meanwhile Xu cancels in the app.
        xu = await buy(people["xu"], "demo-xu-00001", 2, 20)
        late = await pay(xu, delay=LATE_SECONDS)
        cancelled = await people["xu"].cancel(xu.order["out_trade_no"])
        section.expect(
            "the unpaid-looking hold is cancelled", cancelled.order.get("state") == "cancelled"
        )
        await late.wait(20)
        section.expect("the late notice is acknowledged", late.acknowledged)

        async def xu_refunded() -> bool:
            done = [
                r for r in sim.ledger.refunds.values() if r.out_trade_no == xu.order["out_trade_no"]
            ]
            return (
                bool(done) and done[0].status == "SUCCESS" and done[0].refund == xu.order["amount"]
            )

        section.expect("late payment refunded in full, automatically", await _until(xu_refunded))

        async def xu_told() -> bool:
            return any(
                m.touser == "o-demo-xu" and "refund" in m.template_id
                for m in sim.subscribe_messages
            )

        # the notice goes through the outbox after the refund lands: on a loaded machine its
        # first attempt can take longer than the other steps' waits
        section.expect(
            "the visitor is told (subscribe message)", await _until(xu_told, timeout=60.0)
        )

        # Lin gives one ticket back.
        first_ticket = views[0].order["tickets"][0]["id"]
        back = await people["lin"].refund(lin.order["out_trade_no"], "demo-rq-1", [first_ticket])
        again = await people["lin"].refund(lin.order["out_trade_no"], "demo-rq-1", [first_ticket])
        section.expect(
            "refund of one ticket, replay answered the same",
            back.ok and again.body == back.body,
            f"{back.body.get('refunded_amount') if back.ok else back.code} fen",
        )
        if back.ok:
            ctx.sold["realname"] -= 1

        async def lin_refunded() -> bool:
            done = [
                r
                for r in sim.ledger.refunds.values()
                if r.out_trade_no == lin.order["out_trade_no"]
            ]
            return len(done) == 1 and done[0].status == "SUCCESS"

        section.expect("the refund lands at WeChat Pay once", await _until(lin_refunded))

        # Someone forges a payment notice for Zhou's second order with another key.
        forged = await buy(people["zhou"], "demo-zhou-002", 1, 30)
        status = await _forged_notice(ctx, sim, forged.order["out_trade_no"])
        state = (await people["zhou"].get(forged.order["out_trade_no"])).order.get("state")
        section.expect(
            "a forged notice is refused (401 FAIL), order still held",
            status == 401 and state == "held",
            f"{status}, {state}",
        )
        await people["zhou"].cancel(forged.order["out_trade_no"])

        section.fact("logins", len(people))
        section.fact("paid orders", 2)
        section.fact(
            "notice deliveries",
            f"{sum(len(n.attempts) for n in sim.notifications)} (incl. probes and duplicates)",
        )
        section.fact("refunds at WeChat", len(sim.ledger.refunds))
        section.fact("subscribe messages", len(sim.subscribe_messages))
        return section


async def _forged_notice(ctx: DemoContext, sim: WeChatSimulator, out_trade_no: str) -> int:
    txn = sim.transaction(out_trade_no)
    resource = {**txn.v3_resource(), "trade_state": "SUCCESS", "transaction_id": "4200000000999"}
    _, body = sim.notifier.v3_body("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
    stamp, nonce = str(int(time.time())), "FORGEDNONCE"
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Serial": sim.config.platform_public_key_id,
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_lines(new_rsa_key(), stamp, nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    url = f"{ctx.base_url}/api/wechat/notify/v3/pay"
    async with ctx.http.post(url, data=body.encode(), headers=headers) as resp:
        answer = json.loads(await resp.text() or "{}")
        return resp.status if answer.get("code") == "FAIL" else -resp.status
