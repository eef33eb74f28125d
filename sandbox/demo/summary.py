"""The demo's closing summary: each step's section, then the figures that span all steps —
units sold per product, denials per reason code, replays, the busy day's remaining
capacity, and the oversell audit read back from ``/api/admin/audit``.

The audit is the hub's own cross-check (allocations of live orders against capacity, counted
from the orders rather than from the stock counters), so ``oversold = 0`` here is evidence,
not an echo of the counters the inventory itself maintains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from sandbox.demo.context import DemoContext, Section


@dataclass
class StockReport:
    cells: list[dict[str, Any]] = field(default_factory=list)  # busy day, every pool
    oversold: int = 0
    audited_slots: int = 0
    oversold_slots: list[str] = field(default_factory=list)


async def read_stock(ctx: DemoContext) -> StockReport:
    """The busy day's cells per pool, and the audit over every pool and day of the week."""
    report = StockReport()
    admin = ctx.admin
    for pool in ctx.pools:
        for cell in await admin.inventory(pool, ctx.busy_day.isoformat()):
            report.cells.append({"pool": pool, **cell})
        for day in ctx.week:
            for slot in await admin.audit(pool, day.isoformat()):
                report.audited_slots += 1
                if int(slot["oversold"]) > 0:
                    report.oversold += int(slot["oversold"])
                    report.oversold_slots.append(f"{pool} {day} {slot['slot']}")
    return report


def render(console: Console, ctx: DemoContext, sections: list[Section], stock: StockReport) -> bool:
    """Print the summary; True when every expectation held and nothing was oversold."""
    console.rule("[bold]tickethub demo — summary")
    for section in sections:
        console.print(f"[bold]{section.title}[/]")
        table = Table(show_header=False, box=None)
        table.add_column(style="cyan", no_wrap=True)
        table.add_column()
        for label, value in section.facts:
            table.add_row(label, value)
        for exp in section.expectations:
            mark = "[green]✓[/]" if exp.ok else "[bold red]✗[/]"
            table.add_row(
                f"{mark} expected", exp.what + (f"  [dim]({exp.detail})[/]" if exp.detail else "")
            )
        console.print(table)
        console.print()

    console.print("[bold]Sold per product[/] (net of cancellations and refunds)")
    sold = Table()
    sold.add_column("product", no_wrap=True)
    sold.add_column("units", justify="right")
    for product, units in sorted(ctx.sold.items()):
        sold.add_row(product, str(units))
    console.print(sold)

    console.print("[bold]Denied by reason code[/]")
    denied = Table()
    denied.add_column("code", no_wrap=True)
    denied.add_column("count", justify="right")
    for code, count in sorted(ctx.denied.items()):
        denied.add_row(code, str(count))
    console.print(denied)
    console.print(f"Replays answered (Idempotent-Replay: true): [bold]{ctx.replays}[/]")

    console.print(f"[bold]Remaining capacity on {ctx.busy_day}[/] (the busy day)")
    cap = Table()
    for col in ("pool", "slot", "bucket", "capacity", "held", "sold", "available"):
        cap.add_column(
            col,
            justify="right" if col in {"capacity", "held", "sold", "available"} else "left",
            no_wrap=True,
        )
    for cell in stock.cells:
        cap.add_row(
            cell["pool"],
            cell["slot"] or "(whole day)",
            cell["bucket"] or "common",
            str(cell["capacity"]),
            str(cell["held"]),
            str(cell["sold"]),
            str(cell["available"]),
        )
    console.print(cap)

    failed = [e for s in sections for e in s.expectations if not e.ok]
    total = sum(len(s.expectations) for s in sections)
    style = "green" if stock.oversold == 0 else "bold red"
    console.print(
        f"[{style}]oversold = {stock.oversold}[/] (audit of {stock.audited_slots} slots: "
        "allocations of live orders vs capacity)"
        + (f" in {', '.join(stock.oversold_slots)}" if stock.oversold_slots else "")
    )
    ok = not failed and stock.oversold == 0
    if ok:
        console.print(f"[bold green]RESULT: OK[/] — all {total} expectations held, oversold = 0")
    else:
        console.print(
            f"[bold red]RESULT: FAILED[/] — {len(failed)} of {total} expectations failed, "
            f"oversold = {stock.oversold}"
        )
        for exp in failed:
            console.print(f"  [red]✗[/] {exp.what} {exp.detail}")
    return ok
