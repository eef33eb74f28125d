"""The venue's internet link in the gates demo: a TCP relay on 127.0.0.1 between the
venue bridge and the hub that the scenario can cut.

Cutting the bridge's hub URL at the socket level is what an outage really is for the
bridge — connections refused and open ones dropped — so the bridge's own online/offline
switching is what the demo shows, not a flag set from outside. ``swallow`` forwards the
bridge's requests but drops the hub's answers to its real traffic (uploads, pulls): the
hub did the work and the bridge never heard, so it must send the same decisions again —
the case "exactly once" is about. Heartbeat answers get through: an offline bridge
heartbeats before it sends any decision, and a link that lost every answer would never
look up to it, so no upload would ever travel (a lossy line that lets the small
heartbeat answer through and loses the big ones is the case worth showing).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Literal

Mode = Literal["up", "down", "swallow"]

# the start of an HTTP request on the bridge's side of a connection (aiohttp sends one
# request at a time on a connection and waits for its answer, so a request begins a read)
_REQUEST = re.compile(rb"^[A-Z]+ (\S+) HTTP/1\.[01]\r\n")


class VenueLink:
    def __init__(self, hub_port: int) -> None:
        self.hub_port = hub_port
        self.mode: Mode = "up"
        self.swallowed = 0  # answers the hub gave that never reached the bridge
        self.refused = 0  # connections the bridge tried while the link was down
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._drop_open()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def set(self, mode: Mode) -> None:
        """Switch the link; any mode but ``up`` also drops the connections now open."""
        self.mode = mode
        if mode != "up":
            self._drop_open()

    def _drop_open(self) -> None:
        for writer in list(self._open):
            writer.close()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            self.refused += 1
            writer.close()
            return
        try:
            hub_r, hub_w = await asyncio.open_connection("127.0.0.1", self.hub_port)
        except OSError:
            writer.close()
            return
        self._open.update((writer, hub_w))
        path = [b""]  # of the request on this connection the hub is answering

        def lost() -> bool:
            # the mode now, not at connect: a pooled connection outlives a switch
            return self.mode == "swallow" and not path[0].endswith(b"/heartbeat")

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if not answers and (request := _REQUEST.match(data)):
                        path[0] = request.group(1).split(b"?", 1)[0]
                    if answers and lost():  # the hub answered; the bridge will never hear it
                        self.swallowed += 1
                        writer.close()
                        hub_w.close()
                        return
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, hub_w, False), pipe(hub_r, writer, True))
        self._open.discard(writer)
        self._open.discard(hub_w)
