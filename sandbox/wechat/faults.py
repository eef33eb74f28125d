"""Failures a test or the demo switches on per path: `sim.faults.add(prefix, mode, times=1)`.

Modes answered by the middleware before the normal handler:

- ``timeout``: sleep `seconds` (default `WeChatSimConfig.fault_timeout_sleep`) past the
  client's timeout, THEN process the request normally — as WeChat does when the answer
  is lost on the way back, which is what makes idempotent retries matter;
- ``http_5xx``: answer `status` (default 502) with a gateway's HTML page;
- ``system_error``: WeChat's own "system busy" in the path's vocabulary (v3
  ``500 SYSTEM_ERROR``, v2 ``result_code=FAIL err_code=SYSTEMERROR``, api.weixin
  ``errcode -1``);
- ``rate_limit``: v3 ``429 FREQUENCY_LIMITED``, v2 ``FREQUENCY_LIMITED``, api.weixin
  ``45011``.

Mode consumed by a handler rather than the middleware:

- ``refund_refused``: on a refund path, v3 accepts the refund and then reports it
  ``ABNORMAL`` (``REFUND.ABNORMAL`` notice); v2 answers ``err_code=NOTENOUGH``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MIDDLEWARE_MODES = ("timeout", "http_5xx", "system_error", "rate_limit")
HANDLER_MODES = ("refund_refused",)
MODES = MIDDLEWARE_MODES + HANDLER_MODES


@dataclass
class Fault:
    path_prefix: str
    mode: str
    times: int | None  # None: until removed
    status: int = 502
    seconds: float | None = None
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Faults:
    """The switched-on failures, matched by path prefix in the order they were added.

    Thread-safe, because tests may switch faults from the thread running a blocking client.
    """

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        path_prefix: str,
        mode: str,
        times: int | None = 1,
        *,
        status: int = 502,
        seconds: float | None = None,
    ) -> Fault:
        """Fail the next `times` requests under `path_prefix` (None: every one until cleared)."""
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {MODES}")
        if mode == "http_5xx" and not 500 <= status <= 599:
            raise ValueError("http_5xx needs a 5xx status")
        fault = Fault(path_prefix, mode, times, status=status, seconds=seconds)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str, modes: tuple[str, ...]) -> Fault | None:
        """The first live fault for `path` among `modes`, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.mode in modes and path.startswith(fault.path_prefix):
                    if fault.exhausted:
                        continue
                    fault.fired += 1
                    return fault
        return None

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]
