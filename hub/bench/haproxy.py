"""HAProxy in front of N hub processes, for ``bench orders --lb haproxy`` and the
kill-one-hub test: the deployment's load balancer, run for real.

The bench installs nothing: without the ``haproxy`` binary it stops with the command
that installs it (Debian: ``apt-get install -y haproxy``). The generated configuration
listens on a free loopback port (chosen by binding port 0), balances round-robin over
the hub processes, checks each on the hub's health route (``GET /healthz``, 5 s to
answer: a hub at its peak answers late, not never) every second and takes a hub out
after two failed checks; refused connections count as failed checks and speed the
checks up (``observe layer4``, ``fastinter``), and ``retry-on`` sends a request refused
by a dead hub to another: a killed hub costs the clients in flight on it one failed
request each, which they retry with the same Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import urlsplit

import aiohttp

INSTALL_HINT = (
    "HAProxy is not installed; install it with `apt-get install -y haproxy` "
    "(Debian/Ubuntu) or your system's package manager, then run the bench again"
)


class HAProxyMissing(RuntimeError):
    """No ``haproxy`` on PATH."""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def config(backends: Sequence[str], port: int, health_path: str = "/healthz") -> str:
    """The HAProxy configuration: one frontend on ``port``, the hubs as one backend."""
    servers = []
    for i, url in enumerate(backends):
        u = urlsplit(url)
        servers.append(
            f"    server hub{i} {u.hostname}:{u.port} check inter 1s fastinter 200ms "
            "fall 2 rise 1 observe layer4 error-limit 3 on-error fail-check"
        )
    return "\n".join(
        [
            "global",
            "    maxconn 4096",
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            # a hub busy at its peak answers its health route late, not never
            "    timeout check 5s",
            "    option http-keep-alive",
            "    option redispatch",
            "    retries 3",
            # a request refused or cut before any answer went to a hub that is gone;
            # it is resent elsewhere (the hub's Idempotency-Key makes a resend safe)
            "    retry-on conn-failure empty-response response-timeout",
            "frontend hub_in",
            f"    bind 127.0.0.1:{port}",
            "    option forwardfor",
            "    default_backend hubs",
            "backend hubs",
            "    balance roundrobin",
            f"    option httpchk GET {health_path}",
            *servers,
            "",
        ]
    )


class HAProxy:
    """``async with HAProxy(urls) as lb: lb.url`` — HAProxy running in front of
    ``urls`` until the block ends."""

    def __init__(
        self, backends: Sequence[str], *, health_path: str = "/healthz", timeout: float = 20.0
    ) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise HAProxyMissing(INSTALL_HINT)
        self.binary = binary
        self.backends = list(backends)
        self.health_path = health_path
        self.timeout = timeout
        self.port = 0
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None

    async def __aenter__(self) -> Self:
        self._dir = tempfile.TemporaryDirectory(prefix="tickethub-haproxy-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = Path(self._dir.name) / "haproxy.cfg"
        cfg.write_text(config(self.backends, self.port, self.health_path))
        self._log = log = (Path(self._dir.name) / "haproxy.log").open("wb")
        check = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(cfg)], capture_output=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy rejected its configuration: {check.stderr.decode()}")
        self._proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT
        )
        await self._wait_up()
        return self

    async def _wait_up(self) -> None:
        """Until the frontend answers the health route (a hub is up behind it)."""
        deadline = time.monotonic() + self.timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"haproxy exited with {self._proc.returncode}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with http.get(self.url + self.health_path) as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy on {self.url} not up after {self.timeout}s")
                await asyncio.sleep(0.1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
        if self._dir is not None:
            self._dir.cleanup()
