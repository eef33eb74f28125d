"""CPU time and resident memory of the server processes a bench started, from /proc.

The bench runs the hub (and the ceiling) as child processes, so their cost per order is
read from the kernel's accounting rather than asked of them: ``utime + stime`` of every
thread of the process (`/proc/<pid>/stat`, fields 14 and 15, in clock ticks) and
``VmRSS`` (`/proc/<pid>/status`). Elsewhere than Linux the figures are None (JSON null):
a missing measurement is shown as missing, never as zero.

`CpuSampler` samples the processes' CPU every few milliseconds during a load phase, so the
CPU can be read at the moment the last order was accepted — the same instant the
throughput clock stops (`hub.bench.load`), leaving out the cheap sold-out answers after it.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from collections.abc import Sequence
from pathlib import Path

from hub.tasks import cancel_and_wait

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU seconds used so far by these processes (None off Linux or when
    one has gone)."""
    total = 0
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # the command name (field 2) may hold spaces: split after its closing parenthesis
        fields = raw[raw.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICK


def rss_mb(pids: Sequence[int]) -> float | None:
    """Resident memory of these processes together, in MiB (None off Linux)."""
    total_kb = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            return None
        kb = next((int(ln.split()[1]) for ln in lines if ln.startswith("VmRSS:")), None)
        if kb is None:
            return None
        total_kb += kb
    return round(total_kb / 1024, 1)


class CpuSampler:
    """Samples `cpu_seconds(pids)` every `every` seconds while running; `at(t)` is the
    CPU used between `start()` and ``t`` seconds after it (the first sample at or after
    ``t``, so never less than the work done up to then)."""

    def __init__(self, pids: Sequence[int], every: float = 0.02) -> None:
        self.pids = list(pids)
        self.every = every
        self._times: list[float] = []
        self._cpu: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self.available = cpu_seconds(self.pids) is not None

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._sample()
        if self.available:
            self._task = asyncio.create_task(self._run(), name="cpu-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._sample()

    def _sample(self) -> None:
        cpu = cpu_seconds(self.pids)
        if cpu is not None:
            self._times.append(time.perf_counter() - self._t0)
            self._cpu.append(cpu)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self._sample()

    def at(self, t: float) -> float | None:
        """CPU seconds used from the start until `t` seconds into the phase."""
        if len(self._cpu) < 2:
            return None
        i = min(bisect.bisect_left(self._times, t), len(self._cpu) - 1)
        return self._cpu[i] - self._cpu[0]


def per_order_ms(cpu: float | None, accepted: int) -> float | None:
    """CPU milliseconds per accepted order (None when not measured or nothing sold)."""
    if cpu is None or accepted <= 0:
        return None
    return round(cpu * 1000 / accepted, 3)
