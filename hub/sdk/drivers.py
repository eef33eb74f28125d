"""What device drivers share beyond their contract (`hub.sdk.DeviceDriver`): a device's
options laid over a driver's defaults, the background tasks a driver starts per
message, and the IP addresses a driver compares to tell a device's own requests from
anyone else's. Part of the public plugin API, so a third-party driver gets the same
behaviour as the built-in ones.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

log = logging.getLogger(__name__)


def merge_options(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (`DeviceConfig.options`, as staff entered them) over ``defaults``:
    nested tables merge key by key, so a device overrides one field name without
    restating the whole layout; anything else replaces. Neither input is changed."""
    out = copy.deepcopy(dict(defaults))
    for key, value in options.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge_options(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def address_ip(address: str) -> str | None:
    """The IP of an onboarded ``address`` — ``ip``, ``ip:port``, ``[v6]:port``, with or
    without ``http://`` and a path — in the form `peer_ip` gives; None when it names no
    IP address (empty, a host name)."""
    host = address.strip().split("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return peer_ip(host)


def peer_ip(remote: str | None) -> str | None:
    """The IP a request came from (aiohttp's ``request.remote``), an IPv4 address a
    dual-stack listener reports as ``::ffff:a.b.c.d`` written as IPv4; None when it is no
    IP address."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


class Background:
    """The tasks a driver starts and does not await (answering a scan after its HTTP
    request was answered, handling a pushed event): each is kept until it ends, so it is
    not garbage-collected mid-flight; a failure is logged under ``what`` (asyncio would
    only complain when the task is collected); `close` cancels and awaits what is left
    when the driver stops."""

    def __init__(self, what: str, logger: logging.Logger | None = None) -> None:
        self.what = what
        self.log = logger or log
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("%s failed: %r", self.what, task.exception())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Background", "address_ip", "merge_options", "peer_ip"]
