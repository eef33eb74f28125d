"""A TCP proxy on 127.0.0.1 that a test can cut: the venue's internet link.

Modes: ``up`` forwards both ways; ``down`` refuses new connections and drops open ones
(the link is gone); ``swallow`` forwards requests to the hub but drops every answer and
then closes (the hub did the work, the bridge never heard: the cut-in-the-middle case) —
only the answers to requests containing `swallow_match` when it is set (a heartbeat
passes, the upload is cut); ``blackhole`` accepts connections and never answers (a
router whose uplink is dead: the caller learns only from its timeout).
The target can be changed (a hub restarted on another port behind the same address).

It lives in the package (not under ``tests/``) because ``tickethub bench failover`` cuts
links with it too.
"""

from __future__ import annotations

import asyncio
import contextlib

_METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"PATCH ")


class LinkProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "up"
        self.port = 0
        self.swallowed = 0
        self.swallow_match = b""
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def set_mode(self, mode: str) -> None:
        assert mode in ("up", "down", "swallow", "blackhole")
        self.mode = mode
        if mode in ("down", "blackhole"):
            self._drop_all()  # swallow applies to open connections too, from their next answer

    def _drop_all(self) -> None:
        for w in list(self._conns):
            w.close()
        self._conns.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            writer.close()
            return
        if self.mode == "blackhole":
            self._conns.add(writer)
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(65536):
                    pass  # read and never answer
            self._conns.discard(writer)
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._conns.update((writer, up_w))
        matched = [not self.swallow_match]  # the last request asked for the match

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if not answers and self.swallow_match and data.startswith(_METHODS):
                        matched[0] = self.swallow_match in data.split(b"\r\n", 1)[0]
                    if answers and self.mode == "swallow" and matched[0]:
                        self.swallowed += 1
                        # the hub answered: the work is done; the bridge never hears it
                        await asyncio.sleep(0.05)
                        writer.close()
                        up_w.close()
                        return
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_w, False), pipe(up_r, writer, True))
        self._conns.discard(writer)
        self._conns.discard(up_w)
