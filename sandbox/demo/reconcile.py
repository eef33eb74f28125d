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
from sandbox.demo.seed import VENUE
from sandbox.demo.wechat import running_wechat
from sandbox.wechat.ledger import CHINA

SHORT_BY = 100  # fen: the injected error
PAPER_SLOT = "08:00-10:00"


class ReconcileStep:
    title = "Day close (day report per channel, WeChat Pay reconciliation)"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        admin = {"Authorization": f"Bearer {ctx.admin_token}"}
        today = ctx.today.isoformat()
        await self._paper(ctx, section, admin)
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
            f"day report {today} has every selling channel (wechat, ctrip, boxoffice, paper …)",
            resp.status == 200 and {"wechat", "ctrip", "boxoffice", "paper"} <= per.keys(),
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

    async def _paper(self, ctx: DemoContext, section: Section, admin: dict[str, str]) -> None:
        """Two paper tickets from this morning's power cut, one at its written price: sales
        of the ``paper`` channel that take stock of their slot."""
        sheet = {
            "venue_id": VENUE,
            "product_id": "adult",
            "travel_date": ctx.busy_day.isoformat(),
            "slot": PAPER_SLOT,
            "staff": "demo.staff",
            "note": "power cut at the south gate",
            "tickets": [{"paper_no": "PAPER-0001"}, {"paper_no": "PAPER-0002", "price": 15000}],
        }
        async with ctx.http.post(
            f"{ctx.base_url}/api/admin/backfill", json=sheet, headers=admin
        ) as resp:
            body = await resp.json()
        ok = resp.status == 200 and body.get("created") == ["PAPER-0001", "PAPER-0002"]
        if ok:
            ctx.sold["adult"] += 2
        why = "" if ok else f"HTTP {resp.status} {body}"
        section.expect("paper tickets entered as sales of their slot", ok, why)
