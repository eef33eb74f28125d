"""MQTT gates and terminals through `aiomqtt`: the bridge and the gates meet at the
venue's broker.

A gate publishes on its event topic either a scan it wants decided (answered on its
command topic with the bridge's verdict) or a decision it took by itself from its own
list while it could not ask (recorded with `host.device_event`, then acknowledged so the
gate can forget it — it re-sends anything unacknowledged, so nothing is lost and the
event id makes a re-send count once). Gates that hold a list (``holds_list``) get list
updates on the command topic; the gate keeps a persistent session, so updates published
while it is offline reach it when it reconnects.

The broker is no authority (the venue's Mosquitto may well allow anonymous clients, and
anyone who can publish on a gate's event topic could report a "granted" entry): every
message a gate publishes carries ``sig``, an HMAC-SHA256 under the gate's own secret
(device option ``secret``, also set in the gate) over its topic and the message
(`profile.sign`), and the bridge signs what it publishes on the command topic the same
way, so a gate can tell our verdicts and list updates from anyone else's. A message
without a valid signature is dropped and counted (``forged``) before it is read further;
a signed "ask" is answered once — a copy replayed later (same id and time) is refused —
and a gate without a list (``holds_list`` false) cannot have decided by itself, so a
"granted" record from it is refused too. The bridge takes a gate's "granted" record only
for a ticket it pushed to that gate. The bridge's own broker login, if the broker
requires one: ``TICKETHUB_MQTT_USERNAME`` / ``TICKETHUB_MQTT_PASSWORD``.

The driver keeps one connection for all gates and reconnects with backoff; a message it
cannot use (not JSON, no id, unknown serial, oversized) is logged and dropped, and a
gate that asked gets a refusal rather than silence when it can be answered at all.
Decisions are remembered per (gate, event id) for ``replay_seconds`` so a redelivered
scan gets the same verdict instead of using the ticket twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiomqtt
from cachetools import TTLCache
from pydantic import ValidationError

from hub.domain.masking import mask_scan
from hub.sdk import (
    DeviceConfig,
    DeviceConfigError,
    DeviceError,
    DeviceEvent,
    DeviceHost,
    DeviceInfo,
    GateCredential,
    GateDecision,
    Scan,
)
from hub.sdk.drivers import Background
from plugins.device_mqtt.profile import (
    MIN_SECRET,
    Incoming,
    Profile,
    ProfileError,
    seal,
    signed_by,
)

log = logging.getLogger(__name__)

VENDOR = "mqtt"
SKEW_WARN = timedelta(minutes=5)
REPLAY_SECONDS = 600.0
# A verdict follows our PUBACK on the same socket; with Nagle on it waits for the
# broker's delayed ACK (~40 ms per hop). Gates are waiting with a visitor in front.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@dataclass
class GateState:
    config: DeviceConfig
    profile: Profile
    list_version: int = 0
    last_seen: datetime | None = None
    skew_seconds: float | None = None
    scans: int = 0
    records: int = 0
    duplicates: int = 0
    refused: int = 0
    forged: int = 0  # unsigned or wrongly signed messages on its topic

    @property
    def secret(self) -> str:
        return str(self.config.options.get("secret") or "")


class MqttDriver:
    vendor = VENDOR

    def __init__(
        self,
        *,
        hostname: str | None = None,
        port: int | None = None,
        replay_seconds: float = REPLAY_SECONDS,
        connect_timeout: float = 3.0,
    ) -> None:
        self.hostname = hostname or os.environ.get("TICKETHUB_MQTT_HOST", "127.0.0.1")
        self.port = port or int(os.environ.get("TICKETHUB_MQTT_PORT", "1883"))
        self.identifier = f"tickethub-bridge-{uuid.uuid4().hex[:12]}"
        self.connect_timeout = connect_timeout
        self.host: DeviceHost | None = None
        self.gates: dict[str, GateState] = {}  # by device id
        self.filters: dict[str, Profile] = {}  # subscription → the layout it belongs to
        # decisions by (gate, event id), kept as futures so a redelivery that arrives while
        # the first is still being decided waits for it instead of deciding again
        self.decisions: TTLCache[tuple[str, str], asyncio.Future[GateDecision]] = TTLCache(
            maxsize=100_000, ttl=replay_seconds
        )
        # asks already answered, by (gate, id, time): a copy replayed after its decision
        # left `decisions` is refused instead of decided again
        self.asked: TTLCache[tuple[str, str, str], bool] = TTLCache(
            maxsize=1_000_000, ttl=24 * 3600
        )
        self.username = os.environ.get("TICKETHUB_MQTT_USERNAME") or None
        self.password = os.environ.get("TICKETHUB_MQTT_PASSWORD") or None
        self.unknown = 0
        self.malformed = 0
        self.forged = 0
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks = Background("mqtt: message handling", log)

    # ------------------------------------------------------------------ connection

    async def start(self, host: DeviceHost) -> None:
        """Connect in the background; the bridge starts even if the broker is down."""
        self.host = host
        self._runner = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(self._connected.wait(), self.connect_timeout)
        except TimeoutError:
            log.warning("mqtt: broker %s:%d not reachable yet; retrying", self.hostname, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await self._tasks.close()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self.hostname,
                    self.port,
                    identifier=self.identifier,
                    username=self.username,
                    password=self.password,
                    keepalive=30,
                    socket_options=NO_DELAY,
                ) as client:
                    self._client = client
                    for topic in list(self.filters):
                        await client.subscribe(topic, qos=1)
                    self._connected.set()
                    backoff = 0.2
                    log.info("mqtt: connected to %s:%d", self.hostname, self.port)
                    async for message in client.messages:
                        self._tasks.spawn(self._on_message(str(message.topic), message.payload))
            except aiomqtt.MqttError as exc:
                if self._connected.is_set():
                    log.warning("mqtt: lost the broker (%s); reconnecting", exc)
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _publish(self, topic: str, payload: bytes) -> None:
        client = self._client
        if client is None:
            raise DeviceError(f"MQTT broker {self.hostname}:{self.port} is not reachable")
        try:
            await client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError as exc:
            raise DeviceError(f"could not publish to {topic}: {exc}") from exc

    # ------------------------------------------------------------------ onboarding

    def _profile(self, device: DeviceConfig) -> Profile:
        if not device.serial or "/" in device.serial or "+" in device.serial:
            raise DeviceConfigError("an MQTT gate needs its serial (as in its topics, without '/')")
        try:
            profile = Profile.from_options(device.options)
        except ProfileError as exc:
            raise DeviceConfigError(str(exc)) from exc
        if len(str(device.options.get("secret") or "")) < MIN_SECRET:
            raise DeviceConfigError(
                f"give the gate a secret of its own (option 'secret', at least {MIN_SECRET} "
                "characters, set in the gate too): the broker lets anyone publish on its "
                "topic, so its messages are signed with it"
            )
        return profile

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        """Gates cannot be dialled; the test is the layout and the broker connection."""
        profile = self._profile(device)
        if not self._connected.is_set():
            raise DeviceError(f"MQTT broker {self.hostname}:{self.port} is not reachable")
        return DeviceInfo(
            serial=device.serial, model=f"MQTT gate ({profile.event_topic(device.serial)})"
        )

    async def attach(self, device: DeviceConfig) -> None:
        profile = self._profile(device)
        old = self.gates.get(device.id)
        self.gates[device.id] = GateState(
            device, profile, list_version=old.list_version if old else 0
        )
        topic = profile.event_filter
        if topic not in self.filters:
            self.filters[topic] = profile
            client = self._client
            if client is not None:
                await client.subscribe(topic, qos=1)

    async def detach(self, device_id: str) -> None:
        self.gates.pop(device_id, None)

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        state = self.gates.get(device.id)
        if state is None:
            raise DeviceError(f"gate {device.id} is not attached")
        if not state.profile.data["holds_list"]:
            return  # the gate asks for every scan
        now = self._now()
        with_ids = bool(state.profile.data["send_id_numbers"])
        upsert: list[dict[str, Any]] = []
        delete: list[str] = []
        for cred in credentials:
            if cred.revoked or cred.valid_until <= now:
                delete.append(cred.ticket_id)
                continue
            codes = [c for c in (cred.qr, str(cred.card_no) if cred.card_no else None) if c]
            if with_ids and cred.id_number:
                codes.append(cred.id_number)
            if not codes:
                continue
            upsert.append(
                {
                    "ticket": cred.ticket_id,
                    "codes": codes,
                    "from": state.profile.time_value(cred.valid_from),
                    "until": state.profile.time_value(cred.valid_until),
                    "entries": cred.entries_allowed,
                }
            )
        # in batches: gate firmware takes small messages, and each batch is a version the
        # gate can report having applied
        size = max(1, int(state.profile.data["list_batch"]))
        topic = state.profile.command_topic(device.serial)
        for i in range(0, max(len(upsert), len(delete)), size):
            state.list_version += 1
            payload = state.profile.list_update(
                state.list_version, upsert[i : i + size], delete[i : i + size]
            )
            await self._publish(topic, self._seal(state.config, topic, payload))

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        state = self.gates.get(device.id)
        profile = state.profile if state else self._profile(device)
        topic = profile.command_topic(device.serial)
        await self._publish(topic, self._seal(device, topic, profile.open_door(door)))

    def status(self, device_id: str) -> dict[str, Any]:
        state = self.gates.get(device_id)
        if state is None:
            return {"attached": False}
        return {
            "attached": True,
            "broker": self._connected.is_set(),
            "last_seen": state.last_seen.isoformat() if state.last_seen else None,
            "list_version": state.list_version,
            "clock_skew_seconds": state.skew_seconds,
            "scans": state.scans,
            "records": state.records,
            "duplicates": state.duplicates,
            "refused": state.refused,
            "forged": state.forged,
        }

    # ------------------------------------------------------------------ messages

    def _gate_for(self, topic: str) -> tuple[str | None, GateState | None]:
        assert self.host is not None
        for profile in self.filters.values():
            serial = profile.serial_of(topic)
            if serial is None:
                continue
            config = self.host.device_by_serial(VENDOR, serial)
            state = self.gates.get(config.id) if config is not None else None
            if state is not None and state.profile.serial_of(topic) == serial:
                state.config = config or state.config
                return serial, state
            return serial, None
        return None, None

    async def _on_message(self, topic: str, payload: Any) -> None:
        serial, state = self._gate_for(topic)
        if state is None:
            self.unknown += 1
            log.warning("mqtt: ignored a message from unknown gate %r", (serial or topic)[:64])
            return
        body = payload if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
        doc, why = state.profile.read(bytes(body))
        now = self._now()
        if doc is None:
            self.malformed += 1
            state.refused += 1
            log.warning("mqtt: dropped a message from %s: %s", state.config.id, why)
            return
        if not signed_by(topic, doc, state.secret, state.profile.data["fields"]["sig"]):
            self.forged += 1
            state.forged += 1
            log.warning(
                "mqtt: dropped a message on %s's topic without its signature", state.config.id
            )
            return
        state.last_seen = now
        try:
            msg = state.profile.incoming(doc)
        except ValueError as exc:
            self.malformed += 1
            state.refused += 1
            log.warning("mqtt: refused a message from %s: %s", state.config.id, exc)
            event_id = doc.get(state.profile.data["fields"]["id"])
            if isinstance(event_id, str | int) and str(event_id).strip():
                await self._answer(state, str(event_id)[:64], allow=False, text="Invalid scan")
            return
        if msg.kind:
            return  # heartbeat / status: last_seen is all we need from it
        self._check_clock(state, msg, now)
        if msg.result is None:
            raw_time = str(doc.get(state.profile.data["fields"]["time"]))
            await self._decide(state, msg, raw_time)
        elif msg.result and not state.profile.data["holds_list"]:
            self.forged += 1
            state.forged += 1
            log.warning(
                "mqtt: %s holds no list, yet reported admitting someone by itself: refused",
                state.config.id,
            )
        else:
            await self._record(state, msg)

    def _check_clock(self, state: GateState, msg: Incoming, now: datetime) -> None:
        if msg.at is None:
            return
        skew = (msg.at - now).total_seconds()
        state.skew_seconds = round(skew, 1)
        if abs(skew) > SKEW_WARN.total_seconds() and msg.result is None:
            log.warning(
                "mqtt: %s clock is %+.0f s off; the verdict carries the bridge's time",
                state.config.id,
                skew,
            )

    async def _decide(self, state: GateState, msg: Incoming, raw_time: str) -> None:
        assert self.host is not None
        key = (state.config.id, msg.event_id)
        pending = self.decisions.get(key)
        seen = (state.config.id, msg.event_id, raw_time)
        if pending is None and seen in self.asked:
            # decided and forgotten: a copy sent again long after, not a new presentation
            self.forged += 1
            state.forged += 1
            log.warning("mqtt: %s: an old ask replayed (id %s): refused", state.config.id, key[1])
            await self._answer(state, msg.event_id, allow=False, text="Please scan again")
            return
        if pending is None:
            self.asked[seen] = True
            try:
                scan = Scan(
                    device_id=state.config.id,
                    gate=state.config.gate,
                    medium=msg.medium,
                    value=msg.code,
                    direction=msg.direction,
                    at=msg.at,
                )
            except ValidationError:
                await self._answer(state, msg.event_id, allow=False, text="Invalid scan")
                return
            state.scans += 1
            pending = asyncio.ensure_future(self.host.decide(scan))
            self.decisions[key] = pending
        else:
            state.duplicates += 1
        try:
            decision = await asyncio.shield(pending)
        except Exception:
            self.decisions.pop(key, None)
            log.exception("mqtt: decision failed at %s", state.config.id)
            await self._answer(state, msg.event_id, allow=False, text="Please scan again")
            return
        log.info(
            "mqtt: %s %s at %s (%s)",
            "open" if decision.allow else "deny",
            mask_scan(msg.medium, msg.code),
            state.config.id,
            decision.code or "ok",
        )
        await self._answer(state, msg.event_id, allow=decision.allow, text=decision.reason)

    async def _answer(self, state: GateState, event_id: str, *, allow: bool, text: str) -> None:
        payload = state.profile.verdict(event_id, allow=allow, text=text, now=self._now())
        topic = state.profile.command_topic(state.config.serial)
        try:
            await self._publish(topic, self._seal(state.config, topic, payload))
        except DeviceError as exc:
            log.warning("mqtt: verdict for %s not sent: %s", state.config.id, exc)

    async def _record(self, state: GateState, msg: Incoming) -> None:
        """A decision the gate took alone: recorded once, then acknowledged."""
        assert self.host is not None
        if (state.config.id, msg.event_id) in self.decisions:
            # the gate gave up waiting for our verdict and decided itself; our decision
            # already counts this presentation
            state.duplicates += 1
        else:
            event = DeviceEvent(
                device_id=state.config.id,
                event_key=msg.event_id,
                granted=bool(msg.result),
                medium=msg.medium,
                value=msg.code,
                gate=state.config.gate,
                direction=msg.direction,
                at=msg.at,
                reason="decided by the gate",
            )
            if await self.host.device_event(event):
                state.records += 1
            else:
                state.duplicates += 1
        topic = state.profile.command_topic(state.config.serial)
        try:
            await self._publish(
                topic, self._seal(state.config, topic, state.profile.ack(msg.event_id))
            )
        except DeviceError as exc:
            log.warning("mqtt: ack to %s not sent (it will re-send): %s", state.config.id, exc)

    def _now(self) -> datetime:
        assert self.host is not None, "driver not started"
        return self.host.clock.now()

    @staticmethod
    def _seal(device: DeviceConfig, topic: str, payload: bytes) -> bytes:
        secret = str(device.options.get("secret") or "")
        fields = device.options.get("fields")
        field = str(fields.get("sig") or "sig") if isinstance(fields, dict) else "sig"
        return seal(topic, payload, secret, field) if secret else payload
