"""Demo step: every OTA's stock follows a WeChat sale.

A visitor buys adult tickets in the WeChat mini-program; the hub's stock pusher tells
Ctrip (``DateInventoryModify``, its per-resource window shortened to 2 s for the demo —
Ctrip's documented minute in production), Meituan (a change notice, after which the
sandbox Meituan pulls the price calendar), Fliggy (TOP ``alitrip.ticket.skus.upload``),
and Douyin pulls the stock SPI. The step waits (bounded) until each sandbox OTA shows
what the hub would tell it now (``GET /api/admin/stock-push``) and that the sold tickets
are gone from it, and checks no sandbox refused a push for breaking its limits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox.demo import ctrip as demo_ctrip
from sandbox.demo import douyin as demo_douyin
from sandbox.demo import fliggy as demo_fliggy
from sandbox.demo import meituan as demo_meituan
from sandbox.demo import wechat as demo_wechat
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.wechat_client import MiniProgramClient
from sandbox.ota.douyin import DouyinClient
from sandbox.ota.douyin_stock import DouyinStockPuller
from sandbox.ota.meituan import MeituanClient

PRODUCT = "adult"
SLOT = "14:00-16:00"  # no allotment there: every channel sells from the common pool
BOUGHT = 3
CTRIP_WINDOW_SECONDS = "2"
WAIT_SECONDS = 30.0


class StockStep:
    title = "Stock push (every OTA follows a WeChat sale)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        port = int(ctx.base_url.rsplit(":", 1)[1])
        wx = demo_wechat._RUNNING.get(port)
        ctrip = demo_ctrip._SANDBOXES.find(ctx, section)
        meituan = demo_meituan._SANDBOXES.find(ctx, section)
        fliggy = demo_fliggy._SANDBOXES.find(ctx, section)
        douyin = demo_douyin._SANDBOXES.find(ctx, section)
        if wx is None or not (ctrip and meituan and fliggy and douyin):
            section.expect("every sandbox OTA and WeChat running", False)
            return section
        day = ctx.busy_day.isoformat()
        mt = meituan.settings
        meituan.server.puller = MeituanClient(
            partner_id=mt["MEITUAN_PARTNER_ID"],
            client_id=mt["MEITUAN_CLIENT_ID"],
            client_secret=mt["MEITUAN_CLIENT_SECRET"],
            aes_key=mt["MEITUAN_AES_KEY"],
            http=ctx.http,
            base_url=ctx.base_url,
        )
        puller = DouyinStockPuller(
            DouyinClient(
                douyin.settings["DOUYIN_CLIENT_KEY"],
                douyin.settings["DOUYIN_CLIENT_SECRET"],
                ctx.http,
                base_url=ctx.base_url,
            ),
            [PRODUCT],
            ctx.busy_day,
            every_seconds=0.5,
        )
        books = {
            "ctrip": (ctrip.server.stock, ""),  # Ctrip: the day's total (no slot field)
            "meituan": (meituan.server.stock, SLOT),
            "fliggy": (fliggy.server.stock, SLOT),
            "douyin": (puller.book, ""),  # Douyin: the day's total, pulled
        }

        async def hub_says() -> dict[str, int]:
            doc = await ctx.admin.call(
                "GET", "/api/admin/stock-push", params={"product_id": PRODUCT, "date": day}
            )
            out = {}
            for name, (_, slot) in books.items():
                if name == "douyin":  # no pusher (Douyin pulls): the common pool
                    live = await _douyin_live(ctx, day)
                else:
                    slots = doc["channels"][name]["slots"]
                    live = {code: cell["live"] for code, cell in slots.items()}
                out[name] = live.get(slot, 0) if slot else sum(live.values())
            return out

        async def all_follow() -> tuple[bool, dict[str, Any]]:
            end = time.monotonic() + WAIT_SECONDS
            shown: dict[str, Any] = {}
            while time.monotonic() < end:
                want = await hub_says()
                shown = {n: b.shows(PRODUCT, day, s) for n, (b, s) in books.items()}
                if shown == want:
                    return True, shown
                await asyncio.sleep(0.2)
            return False, shown

        # Meituan loads the calendar once (afterwards it pulls after each notice)
        await meituan.server.pull({"partnerDealId": PRODUCT, "startTime": day, "endTime": day})
        puller.start()
        try:
            settled, before = await all_follow()
            section.expect("every OTA shows the hub's stock before the sale", settled, str(before))
            visitor = MiniProgramClient(ctx.http, ctx.base_url)
            await visitor.login(wx.sim.issue_js_code("o-demo-stock"))
            sold_at = time.monotonic()
            reply = await visitor.order("demo-stock-0001", PRODUCT, day, SLOT, BOUGHT)
            section.expect(f"a WeChat visitor holds {BOUGHT} adult tickets", reply.status == 201)
            if reply.status != 201:
                ctx.denied[reply.code] += 1
                return section
            ctx.sold[PRODUCT] += BOUGHT
            followed, after = await all_follow()
            took = time.monotonic() - sold_at
            section.expect("every OTA shows the stock left after the sale", followed, str(after))
            dropped = all(
                before.get(n) is not None and after.get(n) == before[n] - BOUGHT for n in books
            )
            section.expect(f"each OTA's number dropped by the {BOUGHT} sold", dropped)
            refused = {n: len(b.refused) for n, (b, _) in books.items() if b.refused}
            section.expect("no push refused for breaking a partner's limits", not refused,
                           str(refused))  # fmt: skip
            section.fact("OTAs told", ", ".join(f"{n} {before[n]}→{after[n]}" for n in books))
            section.fact("all OTAs followed within", f"{took:.1f} s (Ctrip's window 2 s)")
        finally:
            await puller.stop()
        return section


async def _douyin_live(ctx: DemoContext, day: str) -> dict[str, int]:
    """What Douyin can sell per slot (Douyin has no allotment and no pusher)."""
    cells = await ctx.admin.inventory("main", day)
    live: dict[str, int] = {}
    for cell in cells:
        if cell["bucket"] == "":
            live[cell["slot"]] = live.get(cell["slot"], 0) + int(cell["available"])
    return live
