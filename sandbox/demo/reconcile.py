"""Demo step, the day's close: the day report per channel (admin API), then WeChat Pay's
bill of the day fetched and matched by the hub — with one error the demo makes WeChat put
on its bill (a payment shown 1.00 yuan short), which the reconciliation must find, and
nothing else.

WeChat writes a day's bill after 10:00 the next day: the simulator's clock is moved to
then for the fetch and back afterwards (the hub fetches through
``POST /api/admin/reconcile/fetch``, what its daily job does by itself at 10:00).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sandbox.demo.context import DemoContext, Section
from sandbox.demo.wechat import running_wechat
from sandbox.wechat.ledger import CHINA

SHORT_BY = 100  # fen: the injected error


class ReconcileStep:
    title = "Day close (day report per channel, WeChat Pay reconciliation)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        admin = {"Authorization": f"Bearer {ctx.admin_token}"}
        today = ctx.today.isoformat()
        async with ctx.http.get(
            f"{ctx.base_url}/api/admin/reports/daily?date={today}", headers=admin
        ) as resp:
            report = await resp.json()
        per = report.get("by_channel", {}) if resp.status == 200 else {}
        for channel, t in per.items():
            section.fact(
                f"report {channel}",
                f"{t['orders']} orders, {t['tickets_sold']} sold, {t['refunded']} refunded, "
                f"net ¥{t['net']}",
            )
        section.expect(
            f"day report {today} has every selling channel (wechat, ctrip, boxoffice …)",
            resp.status == 200 and {"wechat", "ctrip", "boxoffice"} <= per.keys(),
            f"HTTP {resp.status}, channels {sorted(per)}",
        )

        wx = running_wechat(ctx)
        if wx is None:
            section.expect("WeChat simulator running next to the hub", False, "not started")
            return section
        sim = wx.sim
        day = datetime.fromtimestamp(sim.clock.now(), CHINA).date()
        paid = sorted(
            (t for t in sim.ledger.transactions.values() if t.state in ("SUCCESS", "REFUND")),
            key=lambda t: t.success_time or 0,
        )
        paid = [t for t in paid if t.state == "SUCCESS" and t.refunded == 0]
        if not paid:
            section.expect("a WeChat payment to misstate on the bill", False, "none paid")
            return section
        victim = paid[0]
        sim.bills.misstate(victim.out_trade_no, victim.total - SHORT_BY)
        section.fact("injected", f"{victim.out_trade_no} billed ¥{SHORT_BY / 100:.2f} short")
        shift = (
            datetime.combine(day + timedelta(days=1), time(10, 1), CHINA).timestamp()
            - sim.clock.now()
        )
        sim.clock.advance(shift)
        try:
            async with ctx.http.post(
                f"{ctx.base_url}/api/admin/reconcile/fetch?channel=wechat&date={day}&by=demo",
                headers=admin,
            ) as resp:
                imported = await resp.json()
        finally:
            sim.clock.advance(-shift)
            sim.bills.faults.clear()
        ok = resp.status == 200
        section.fact(
            "WeChat bill",
            f"{imported.get('lines')} lines, {imported.get('discrepancies_found')} discrepancies"
            if ok
            else f"HTTP {resp.status} {imported}",
        )
        async with ctx.http.get(
            f"{ctx.base_url}/api/admin/reconcile/discrepancies?channel=wechat&date={day}",
            headers=admin,
        ) as resp:
            found = (await resp.json()).get("discrepancies", [])
        got = [(d["kind"], d["ref"]) for d in found]
        section.expect(
            "WeChat reconciliation finds exactly the injected discrepancy",
            ok and got == [("amount_mismatch", f"pay:{victim.out_trade_no}")],
            f"found {got}",
        )
        return section
