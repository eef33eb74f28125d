"""The bench's progress display on stderr and its measured load phases.

Kept apart from `hub.bench.orders` so the order and overload benches share one way of
showing progress and of pricing a phase (CPU per accepted order, resident memory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from hub.bench.load import LoadResult, Outcome, Request, run_load
from hub.bench.procstat import CpuSampler, per_order_ms, rss_mb

if TYPE_CHECKING:
    from hub.bench.orders import BenchConfig


@dataclass(frozen=True, slots=True)
class Phase:
    """One measured load phase and what it cost the server processes."""

    load: LoadResult
    cpu_ms_per_order: float | None
    rss_mb: float | None

    def figures(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}per_s": round(self.load.accepted_per_s, 1),
            f"{prefix}p50_ms": round(self.load.p50_ms, 2),
            f"{prefix}p99_ms": round(self.load.p99_ms, 2),
            f"{prefix}cpu_ms_per_order": self.cpu_ms_per_order,
            f"{prefix}rss_mb": self.rss_mb,
        }


class Display:
    """Progress bars on stderr; silent with ``--json-only``."""

    def __init__(self, quiet: bool) -> None:
        self.console = Console(stderr=True, quiet=quiet)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=quiet,
            transient=False,
        )

    def log(self, message: str) -> None:
        self.progress.console.print(message)

    async def load(
        self,
        label: str,
        urls: list[str],
        make: Callable[[int], Request],
        total: int,
        cfg: BenchConfig,
        concurrency: int | None = None,
        honor_retry_after: float = 0.0,
    ) -> LoadResult:
        task = self.progress.add_task(label, total=total, note="")
        counts = {"ok": 0, "no": 0}

        def done(outcome: Outcome) -> None:
            counts["ok" if outcome.code == "ACCEPTED" else "no"] += 1
            self.progress.update(
                task,
                advance=1,
                note=f"[green]{counts['ok']} sold[/] [yellow]{counts['no']} refused[/]",
            )

        return await run_load(
            urls,
            make,
            total=total,
            concurrency=concurrency or cfg.concurrency,
            request_timeout=cfg.request_timeout,
            run_timeout=cfg.run_timeout,
            on_done=done,
            honor_retry_after=honor_retry_after,
        )

    async def measured(
        self,
        label: str,
        urls: list[str],
        make: Callable[[int], Request],
        cfg: BenchConfig,
        pids: Sequence[int],
        *,
        total: int | None = None,
        concurrency: int | None = None,
    ) -> Phase:
        """A load phase with the servers' CPU sampled: CPU per accepted order up to the
        last acceptance, and their resident memory at the end."""
        sampler = CpuSampler(pids)
        sampler.start()
        try:
            result = await self.load(label, urls, make, total or cfg.orders, cfg, concurrency)
        finally:
            await sampler.stop()
        cpu = sampler.at(result.accepted_wall_s)
        return Phase(result, per_order_ms(cpu, result.accepted), rss_mb(pids))
