"""Reading the wall's stream as a client does (the benchmarks and the tests): the
``snapshot`` events of a server-sent-events response, each parsed from its JSON.

Events are split on blank lines per the SSE format; a snapshot is one ``data:`` line
(the hub writes compact JSON), however long — aiohttp's ``readline`` would refuse a line
longer than its buffer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from hub import jsonutil


async def snapshots(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Each ``snapshot`` event's data as it arrives (comments and pings skipped)."""
    buffer = b""
    async for chunk in resp.content.iter_any():
        buffer += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            event, data = "message", []
            for line in raw.decode("utf-8").split("\n"):
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
            if event == "snapshot" and data:
                yield jsonutil.loads("\n".join(data))
