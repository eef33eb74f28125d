"""A simulated ZKTeco push terminal: the HTTP client side of the iclock protocol.

It keeps its own user list (what the bridge pushed as ``DATA UPDATE USERINFO``), decides
every card or face at the door from that list — online or not —, keeps an indexed access
log, and uploads the records after the last one the server acknowledged. Offline it goes
on deciding and logging; back online it uploads the backlog. Written from the protocol
facts, not from the driver, so the driver is tested against the device's side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp

TIME = "%Y-%m-%d %H:%M:%S"


@dataclass
class User:
    pin: str
    name: str
    card: str
    start: datetime | None
    end: datetime | None


@dataclass
class ZKDevice:
    serial: str
    server: str  # the bridge's base URL
    http: aiohttp.ClientSession
    tz_hours: float = 8
    skew: timedelta = timedelta(0)  # the device's clock error
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    online: bool = True
    users: dict[str, User] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # rtlog lines; index = position + 1
    acknowledged: int = 0  # records the server confirmed
    executed: list[tuple[str, str, int]] = field(default_factory=list)
    door_opens: int = 0
    refused: bool = False
    options: dict[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.tz_hours))

    def local_now(self) -> datetime:
        return (self.now() + self.skew).astimezone(self.tz).replace(tzinfo=None)

    # ------------------------------------------------------------------ at the door

    def present(self, card: str, *, verify: int = 4, out: bool = False) -> bool:
        """Someone presents a card (verify 4) or a face (15): decide from the own list."""
        now = self.local_now()
        user = next((u for u in self.users.values() if u.card == card), None)
        if user is None:
            event = 27  # not registered
        elif (user.start and now < user.start) or (user.end and now > user.end):
            event = 29  # outside the validity window
        else:
            event = 0
        fields = [
            f"time={now.strftime(TIME)}",
            f"pin={user.pin if user else ''}",
            f"cardno={card}",
            "eventaddr=1",
            f"event={event}",
            f"inoutstatus={1 if out else 0}",
            f"verifytype={verify}",
            f"index={len(self.log) + 1}",
        ]
        self.log.append("\t".join(fields))
        return event == 0

    # ------------------------------------------------------------------ protocol

    def _url(self, path: str) -> str:
        return f"{self.server}{path}"

    async def hello(self) -> bool:
        if not self.online:
            return False
        params = {"SN": self.serial, "options": "all", "pushver": "2.4.1", "language": "69"}
        async with self.http.get(self._url("/iclock/cdata"), params=params) as resp:
            text = await resp.text()
            self.refused = resp.status != 200
        if self.refused:
            return False
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                self.options[key.strip()] = value.strip()
        return True

    async def poll(self) -> int:
        """Fetch and run the server's commands; report each result."""
        if not self.online:
            return 0
        params = {"SN": self.serial}
        async with self.http.get(self._url("/iclock/getrequest"), params=params) as resp:
            if resp.status != 200:
                self.refused = True
                return 0
            text = await resp.text()
        results = []
        for line in text.splitlines():
            if not line.startswith("C:"):
                continue
            _, cid, command = line.split(":", 2)
            code = self._run(command)
            self.executed.append((cid, command, code))
            results.append(f"ID={cid}&Return={code}&CMD={command.split(' ')[0]}")
        if results:
            async with self.http.post(
                self._url("/iclock/devicecmd"), params=params, data="\n".join(results)
            ) as resp:
                await resp.read()
        return len(results)

    def _run(self, command: str) -> int:
        if command.startswith("DATA UPDATE USERINFO "):
            fields = dict(
                part.split("=", 1)
                for part in command.removeprefix("DATA UPDATE USERINFO ").split("\t")
            )
            pin = fields.get("PIN", "")
            if not pin:
                return -1
            self.users[pin] = User(
                pin,
                fields.get("Name", ""),
                fields.get("Card", ""),
                _parse(fields.get("StartTime")),
                _parse(fields.get("EndTime")),
            )
            return 0
        if command.startswith("DATA DELETE USERINFO PIN="):
            self.users.pop(command.rsplit("=", 1)[1], None)
            return 0
        if command.startswith("CONTROL DEVICE "):
            self.door_opens += 1
            return 0
        return -1002  # unsupported command

    async def upload(self) -> int:
        """Send the records after the last acknowledged one; count what was taken."""
        if not self.online or self.acknowledged >= len(self.log):
            return 0
        batch = self.log[self.acknowledged :]
        params = {"SN": self.serial, "table": "rtlog", "Stamp": str(len(self.log))}
        async with self.http.post(
            self._url("/iclock/cdata"), params=params, data="\n".join(batch).encode("utf-8")
        ) as resp:
            text = await resp.text()
            if resp.status != 200 or not text.startswith("OK"):
                return 0
        self.acknowledged = len(self.log)
        return len(batch)

    async def sync(self) -> dict[str, Any]:
        """One round of what a device does on its timer: hello, commands, uploads."""
        said = await self.hello()
        ran = await self.poll() if said else 0
        sent = await self.upload() if said else 0
        return {"hello": said, "commands": ran, "uploaded": sent}


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, TIME)
    except ValueError:
        return None
