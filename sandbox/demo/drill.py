"""Demo step: the outage drill (`sandbox.drill.outage`) against the demo's hub — its own
venue and bridge, cut off, selling at the emergency box office and admitting at a QR
reader and the handheld page, then reconnected and checked. Runs before the day close,
so the day report there shows the ``emergency`` channel too."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sandbox.demo.context import DemoContext, Section
from sandbox.drill.outage import run_drill
from sandbox.drill.result import facts


class OutageDrillStep:
    title = "Outage drill: bridge cut off, emergency box office, QR reader + handheld page"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        with tempfile.TemporaryDirectory(prefix="tickethub-drill-") as tmp:
            result = await run_drill(ctx.base_url, ctx.admin_token, ctx.boxoffice_token, Path(tmp))
        for label, value in facts(result):
            section.fact(label, value)
        for check in result.checks:
            section.expect(check.what, check.ok, check.detail)
        return section
