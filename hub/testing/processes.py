"""Run real hub processes (or any small HTTP server) as subprocesses, for tests and benchmarks.

Why subprocesses: the promise "never oversells across hub processes" can only be checked
with several processes that share nothing but the database, and a benchmark should measure
the server the way it is deployed, not an in-process test client.

Every process gets a free loopback port, its own log file and its own process group; the
harness waits (bounded) for ``/healthz`` on each, and on exit sends SIGTERM, then SIGKILL
after a grace period. An ``atexit`` safety net kills whatever is still running if the
event loop never reached ``__aexit__`` — a test that fails must not leave a server behind.

Usage::

    async with HubProcesses(database_url, count=3) as hubs:
        async with aiohttp.ClientSession() as http:
            admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
            await admin.put_venue("v1", "Venue")
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

#: Processes started by any harness in this interpreter and not yet reaped.
_LIVE: set[subprocess.Popen[bytes]] = set()


def _kill_leftovers() -> None:
    """Last resort at interpreter exit: kill the process group of every server still alive."""
    for proc in list(_LIVE):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        _LIVE.discard(proc)


atexit.register(_kill_leftovers)


class ServerStartError(RuntimeError):
    """A server process died or never became healthy; the message carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just considered free on `host`.

    There is a small window between closing this socket and the server binding the port;
    on a loopback-only test machine that window is harmless, and a clash shows up as a
    clear start error with the server's own message.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def python_module_argv(module: str, *args: str) -> list[str]:
    """``python -m module args…`` with THIS interpreter, so subprocesses use the same venv."""
    return [sys.executable, "-m", module, *args]


class ServerProcesses:
    """N copies of one HTTP server, each on its own free loopback port.

    `argv(port)` builds the command line of one process. The servers inherit this
    process's environment minus every ``TICKETHUB_*`` variable (so a developer's shell
    cannot silently change a test), plus `env`. They run in a private temporary working
    directory, so a ``.env`` file or ``var/`` folder in the repository is not picked up.
    """

    def __init__(
        self,
        argv: Callable[[int], Sequence[str]],
        count: int = 1,
        *,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        health_path: str = "/healthz",
        startup_timeout: float = 60.0,
        stop_grace: float = 10.0,
        name: str = "server",
        ports: Sequence[int] | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if ports is not None and len(ports) != count:
            raise ValueError("ports must name one port per process")
        # chosen by the caller when something must know a server's address before it
        # starts (the stock-sync bench's sandboxes call the hub back); else free ports
        self.ports: list[int] | None = list(ports) if ports is not None else None
        self._argv = argv
        self.count = count
        self.host = host
        self.health_path = health_path
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.name = name
        self.env: dict[str, str] = dict(env or {})
        self.urls: list[str] = []
        self.workdir: Path | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def prepare(self) -> None:
        """Work to do once before the processes start (e.g. the schema). Default: none."""

    async def start(self) -> None:
        """Prepare, spawn every process, and wait until each answers its health check."""
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tickethub-{self.name}-"))
        try:
            await self.prepare()
            env = self._child_env()
            for i in range(self.count):
                port = self.ports[i] if self.ports is not None else free_port(self.host)
                log = self.workdir / f"{self.name}-{i}.log"
                with log.open("wb") as out:
                    # The child holds its own copy of the descriptor; ours closes here.
                    proc = subprocess.Popen(
                        list(self._argv(port)),
                        cwd=self.workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                _LIVE.add(proc)
                self._procs.append(proc)
                self._logs.append(log)
                self.urls.append(f"http://{self.host}:{port}")
            await self._wait_healthy()
        except BaseException:
            await self.stop()
            raise

    def kill(self, index: int) -> None:
        """SIGKILL process ``index`` (its whole group) at once, as a crash would: no
        graceful shutdown, requests in flight on it are cut."""
        proc = self._procs[index]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    async def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after the grace period, reap.

        Safe to call twice and after a failed start."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while any(p.poll() is None for p in self._procs) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(proc.wait, 10)
            _LIVE.discard(proc)
        self._procs.clear()
        self._logs.clear()
        self.urls.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- inspection ------------------------------------------------------------------------

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def returncodes(self) -> list[int | None]:
        return [p.poll() for p in self._procs]

    def log_tail(self, index: int, lines: int = 40) -> str:
        """The last lines a process printed (stdout and stderr together)."""
        try:
            text = self._logs[index].read_text(errors="replace")
        except (IndexError, OSError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals -------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        return env

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for i, url in enumerate(self.urls):
                while True:
                    if self._procs[i].poll() is not None:
                        raise ServerStartError(
                            f"{self.name} #{i} ({url}) exited with code "
                            f"{self._procs[i].returncode} before it was healthy:\n"
                            f"{self.log_tail(i)}"
                        )
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(url + self.health_path) as resp:
                            if resp.status == 200:
                                break
                    if time.monotonic() > deadline:
                        raise ServerStartError(
                            f"{self.name} #{i} ({url}) not healthy after "
                            f"{self.startup_timeout:.0f} s:\n{self.log_tail(i)}"
                        )
                    await asyncio.sleep(0.1)


async def prepare_schema(database_url: str) -> None:
    """Create the hub's schema in an empty database, once, before any hub process starts.

    Runs the Alembic migrations in-process (`hub.storage.migrate.upgrade`, exactly what
    ``tickethub db upgrade`` runs), so the tests exercise the real deployment path.
    """
    from hub.storage import migrate

    await migrate.upgrade(database_url)


class HubProcesses(ServerProcesses):
    """N real hub processes (``python -m hub serve --no-migrate``) on one database.

    The schema is prepared once (see `prepare_schema`) so that N processes do not race to
    migrate. Admin and box-office tokens are random per harness and exposed as attributes;
    the other secrets are the development ones (``TICKETHUB_DEV=1``, see `hub.devmode`).
    `env` adds or overrides settings, e.g. ``{"TICKETHUB_UNSAFE_INVENTORY": "1"}``.
    """

    def __init__(
        self,
        database_url: str,
        count: int = 1,
        *,
        env: Mapping[str, str] | None = None,
        migrate: bool = True,
        startup_timeout: float = 60.0,
        stop_grace: float = 10.0,
        ports: Sequence[int] | None = None,
    ) -> None:
        self.database_url = database_url
        self.migrate = migrate
        self.admin_token = "admin-" + secrets.token_hex(8)
        self.boxoffice_token = "boxoffice-" + secrets.token_hex(8)
        merged = {
            # throw-away hubs of tests and benchmarks: development mode (hub.devmode)
            "TICKETHUB_DEV": "1",
            "TICKETHUB_DATABASE_URL": database_url,
            "TICKETHUB_ADMIN_TOKEN": self.admin_token,
            "TICKETHUB_BOXOFFICE_TOKEN": self.boxoffice_token,
            **(env or {}),
        }
        self.admin_token = merged["TICKETHUB_ADMIN_TOKEN"]
        self.boxoffice_token = merged["TICKETHUB_BOXOFFICE_TOKEN"]
        super().__init__(
            self._serve_argv,
            count,
            env=merged,
            startup_timeout=startup_timeout,
            stop_grace=stop_grace,
            name="hub",
            ports=ports,
        )

    def _serve_argv(self, port: int) -> list[str]:
        return python_module_argv(
            "hub",
            "serve",
            "--host",
            self.host,
            "--port",
            str(port),
            "--database-url",
            self.database_url,
            "--no-migrate",
        )

    async def prepare(self) -> None:
        if self.migrate:
            await prepare_schema(self.database_url)
        if self.workdir is not None:
            self.env.setdefault("TICKETHUB_VAR_DIR", str(self.workdir / "var"))


class ApiError(RuntimeError):
    """An admin call the hub refused; carries the status and the hub's JSON answer."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.body = body


class HubAdmin:
    """The admin HTTP API as typed calls, for seeding from tests, the bench and the demo.

    Seeding through HTTP (not the database) is deliberate: it exercises the same
    validation an operator's script would hit.
    """

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        async with self.http.request(
            method, self.base_url + path, json=json, params=params, headers=self.headers
        ) as resp:
            try:
                body: Any = await resp.json(content_type=None)
            except ValueError:
                body = await resp.text()
            if resp.status >= 300:
                raise ApiError(method, path, resp.status, body)
            return body

    async def put_venue(self, venue_id: str, name: str, timezone: str = "Asia/Shanghai") -> Any:
        return await self.call(
            "PUT", f"/api/admin/venues/{venue_id}", json={"name": name, "timezone": timezone}
        )

    async def put_product(self, product_id: str, doc: Mapping[str, Any]) -> Any:
        return await self.call("PUT", f"/api/admin/products/{product_id}", json=dict(doc))

    async def put_inventory(
        self, pool: str, date_from: str, date_to: str, slots: Sequence[tuple[str, int]]
    ) -> Any:
        body = {
            "pool": pool,
            "date_from": date_from,
            "date_to": date_to,
            "slots": [{"code": code, "capacity": cap} for code, cap in slots],
        }
        return await self.call("PUT", "/api/admin/inventory", json=body)

    async def put_allotment(
        self,
        pool: str,
        date_from: str,
        date_to: str,
        channel: str,
        quantity: int,
        *,
        slot: str | None = None,
        fallback: bool = True,
    ) -> Any:
        body = {
            "pool": pool,
            "date_from": date_from,
            "date_to": date_to,
            "slot": slot,
            "channel": channel,
            "quantity": quantity,
            "fallback": fallback,
        }
        return await self.call("PUT", "/api/admin/allotments", json=body)

    async def inventory(self, pool: str, day: str) -> list[dict[str, Any]]:
        body = await self.call("GET", "/api/admin/inventory", params={"pool": pool, "date": day})
        return list(body["cells"])

    async def audit(self, pool: str, day: str) -> list[dict[str, Any]]:
        body = await self.call("GET", "/api/admin/audit", params={"pool": pool, "date": day})
        return list(body["slots"])
