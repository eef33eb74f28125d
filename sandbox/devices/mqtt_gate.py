"""A simulated MQTT QR gate, talking to a real broker the way such gates do.

Written from the gate's side in the default layout of `plugins.device_mqtt.profile`
(spelled out here, not imported, so a drift between the two fails a test):

- it publishes every scan on ``<prefix>/<serial>/event`` as
  ``{"msgId", "code", "codeType", "ts" (epoch ms), "dir"}`` and waits ``answer_timeout``
  for ``{"cmd": "verify_result", "msgId", "pass", "text", "relayMs", "serverTime"}`` on
  ``<prefix>/<serial>/command`` (its clock follows ``serverTime``);
- with a list of its own (``holds_list``) it decides alone when it cannot ask — bridge
  silent, or its own link down — and keeps each such decision in a backlog it publishes
  (with ``"result": 1|0``) until the bridge acknowledges it (``{"cmd": "ack", "msgId"}``);
  without a list it stays shut when it cannot ask;
- it applies ``list_update`` commands and obeys ``open``; its session is persistent
  (fixed client id, clean_session off), so commands published while it was offline are
  delivered when it reconnects;
- with a ``secret`` (as onboarded) it signs everything it publishes with ``sig`` =
  hex HMAC-SHA256 over ``<topic>\n<the message without sig as JSON, keys sorted, no
  whitespace, non-ASCII unescaped>``, and ignores commands not signed so by the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

log = logging.getLogger(__name__)


@dataclass
class ListEntry:
    ticket: str
    codes: list[str]
    valid_from: datetime
    valid_until: datetime
    entries: int


@dataclass
class Outcome:
    opened: bool
    text: str
    asked: bool  # the bridge answered (False: decided alone or stayed shut)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class MqttGate:
    serial: str
    prefix: str = "gates"
    holds_list: bool = True
    hostname: str = "127.0.0.1"
    port: int = 1883
    answer_timeout: float = 1.0
    clock_offset: timedelta = timedelta(0)
    entries: dict[str, ListEntry] = field(default_factory=dict)  # by ticket
    list_version: int = 0
    backlog: dict[str, dict[str, Any]] = field(default_factory=dict)  # unacknowledged
    relay_opens: int = 0
    door_opens: int = 0
    decided_alone: int = 0
    clock_syncs: int = 0
    last_request: dict[str, Any] = field(default_factory=dict)
    secret: str = ""  # shared with the bridge at onboarding; "" signs nothing
    refused_commands: int = 0  # commands on its topic not signed by the bridge
    _seq: int = 0
    _client: aiomqtt.Client | None = None
    _reader: asyncio.Task[None] | None = None
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack | None = None

    @property
    def event_topic(self) -> str:
        return f"{self.prefix}/{self.serial}/event"

    @property
    def command_topic(self) -> str:
        return f"{self.prefix}/{self.serial}/command"

    @property
    def online(self) -> bool:
        return self._client is not None

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    # ------------------------------------------------------------------ link

    async def connect(self) -> None:
        """Join the broker (persistent session), then re-send the unacknowledged backlog."""
        stack = contextlib.AsyncExitStack()
        client = aiomqtt.Client(
            self.hostname,
            self.port,
            identifier=f"gate-{self.serial}",
            clean_session=False,
            keepalive=30,
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        await stack.enter_async_context(client)
        await client.subscribe(self.command_topic, qos=1)
        self._stack, self._client = stack, client
        self._reader = asyncio.create_task(self._read(client))
        await client.publish(self.event_topic, self._sealed({"type": "heartbeat"}), qos=1)
        await self.flush()

    def _sig(self, topic: str, doc: dict[str, Any]) -> str:
        body = {k: v for k, v in doc.items() if k != "sig"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(
            self.secret.encode(), (topic + "\n" + text).encode(), hashlib.sha256
        ).hexdigest()

    def _sealed(self, doc: dict[str, Any]) -> str:
        """The message as published on the event topic: signed when the gate has a secret."""
        if self.secret:
            doc = {**doc, "sig": self._sig(self.event_topic, doc)}
        return json.dumps(doc)

    async def disconnect(self) -> None:
        """The gate's network goes down (it keeps running)."""
        client, self._client = self._client, None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader  # ended by the cancel, or already by a lost broker
            self._reader = None
        if self._stack is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._stack.aclose()
            self._stack = None
        del client

    async def flush(self) -> int:
        """Publish every decision the bridge has not acknowledged yet."""
        if self._client is None:
            return 0
        for record in list(self.backlog.values()):
            await self._client.publish(self.event_topic, self._sealed(record), qos=1)
        return len(self.backlog)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                doc = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if not isinstance(doc, dict):
                continue
            if self.secret and not hmac.compare_digest(
                str(doc.get("sig", "")), self._sig(self.command_topic, doc)
            ):
                self.refused_commands += 1  # not the bridge: an open, a list, a verdict
                continue
            self._obey(doc)

    def _obey(self, doc: dict[str, Any]) -> None:
        cmd = doc.get("cmd")
        if cmd == "verify_result":
            waiter = self._waiting.pop(str(doc.get("msgId")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(doc)
            server = doc.get("serverTime")
            if isinstance(server, int):
                self.clock_offset = datetime.fromtimestamp(server / 1000, UTC) - datetime.now(UTC)
                self.clock_syncs += 1
        elif cmd == "ack":
            self.backlog.pop(str(doc.get("msgId")), None)
        elif cmd == "open":
            self.door_opens += 1
        elif cmd == "list_update":
            self.list_version = int(doc.get("version", self.list_version))
            for ticket in doc.get("delete", []):
                self.entries.pop(str(ticket), None)
            for e in doc.get("upsert", []):
                self.entries[e["ticket"]] = ListEntry(
                    e["ticket"],
                    [str(c) for c in e["codes"]],
                    datetime.fromtimestamp(e["from"] / 1000, UTC),
                    datetime.fromtimestamp(e["until"] / 1000, UTC),
                    int(e["entries"]),
                )

    # ------------------------------------------------------------------ the turnstile

    async def scan(self, code: str, kind: str = "qr", direction: str = "in") -> Outcome:
        self._seq += 1
        msg_id = f"{self.serial}-{self._seq:06d}"
        request = self.last_request = {
            "msgId": msg_id,
            "code": code,
            "codeType": kind,
            "ts": _ms(self.now()),
            "dir": direction,
        }
        if self._client is not None:
            waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiting[msg_id] = waiter
            try:
                await self._client.publish(self.event_topic, self._sealed(request), qos=1)
                answer = await asyncio.wait_for(waiter, self.answer_timeout)
            except (TimeoutError, aiomqtt.MqttError):
                self._waiting.pop(msg_id, None)
            else:
                opened = answer.get("pass") == 1
                self.relay_opens += opened
                return Outcome(opened, str(answer.get("text", "")), True)
        outcome = self._alone(request)
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await self.flush()  # online but unanswered: report at once
        return outcome

    def _alone(self, request: dict[str, Any]) -> Outcome:
        if not self.holds_list:
            return Outcome(False, "Offline", False)
        now = self.now()
        entry = next(
            (e for e in self.entries.values() if request["code"] in e.codes and e.entries > 0),
            None,
        )
        opened = entry is not None and entry.valid_from <= now < entry.valid_until
        if opened and entry is not None:
            entry.entries -= 1
            self.relay_opens += 1
        self.decided_alone += 1
        self.backlog[request["msgId"]] = {**request, "result": 1 if opened else 0}
        return Outcome(opened, "Welcome" if opened else "Not valid", False)

    async def publish_raw(
        self, payload: bytes | str, topic: str | None = None, *, sign: bool = True
    ) -> None:
        """Anything at all on the event topic (tests of bad input); a JSON object is
        signed as the gate signs (``sign=False``: as anyone else would send it)."""
        assert self._client is not None
        topic = topic or self.event_topic
        if sign and self.secret:
            try:
                doc = json.loads(payload)
            except (TypeError, ValueError):
                doc = None
            if isinstance(doc, dict):
                doc["sig"] = self._sig(topic, doc)
                payload = json.dumps(doc)
        await self._client.publish(topic, payload, qos=1)

    async def close(self) -> None:
        await self.disconnect()
