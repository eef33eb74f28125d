"""A simulated Hikvision face / access terminal speaking ISAPI over HTTP with Digest auth.

It keeps persons, cards and faces (what the bridge pushed), decides cards and faces at
the door from that list, numbers its events (``serialNo``), pushes them to the configured
HTTP host as JSON or multipart-with-snapshot, answers ``AcsEvent`` searches for catch-up,
and for QR codes asks the server ("remote verification") and waits for ``remoteCheck``.
Offline it keeps deciding and storing; the bridge catches up later. Written from the
ISAPI facts, independent of the driver.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

REALM = "DS-K1T671"
TIME = "%Y-%m-%dT%H:%M:%S"
# what a terminal answers a user whose role may look but not configure
LOW_PRIVILEGE = {
    "statusCode": 4,
    "statusString": "Invalid Operation",
    "subStatusCode": "lowPrivilege",
}
_AUTH_FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class Person:
    employee_no: str
    name: str
    begin: datetime
    end: datetime
    cards: set[str] = field(default_factory=set)
    face: bytes | None = None


@dataclass
class HikTerminal:
    serial: str = "DS-K1T671M20261122AAWR123456"
    user: str = "admin"
    password: str = "hik12345"
    tz_hours: float = 8
    online: bool = True
    read_only: bool = False  # the account is an operator's: reads answered, changes 403
    picture: bool = False  # push events as multipart with a JPEG snapshot
    persons: dict[str, Person] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    http_host: str = ""
    host_user: str = ""  # what the HTTP host is configured to authenticate with
    host_password: str = ""
    host_auth: str = "none"  # httpAuthenticationMethod: none | MD5digest
    clock_offset: timedelta = timedelta(0)
    door_opens: int = 0
    pushed: int = 0
    auth_failures: int = 0
    _nonces: set[str] = field(default_factory=set)
    _checks: dict[int, asyncio.Future[bool]] = field(default_factory=dict)
    _server: TestServer | None = None
    _http: aiohttp.ClientSession | None = None
    base_url: str = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        app = web.Application(middlewares=[self._digest])
        r = app.router
        r.add_get("/ISAPI/System/deviceInfo", self._device_info)
        r.add_put("/ISAPI/Event/notification/httpHosts", self._set_host)
        r.add_put("/ISAPI/System/time", self._set_time)
        r.add_put("/ISAPI/AccessControl/UserInfo/SetUp", self._user)
        r.add_put("/ISAPI/AccessControl/UserInfo/Delete", self._delete)
        r.add_put("/ISAPI/AccessControl/CardInfo/SetUp", self._card)
        r.add_post("/ISAPI/Intelligent/FDLib/FaceDataRecord", self._face)
        r.add_put("/ISAPI/AccessControl/RemoteControl/door/{door}", self._door)
        r.add_post("/ISAPI/AccessControl/AcsEvent", self._search)
        r.add_put("/ISAPI/AccessControl/remoteCheck", self._remote_check)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self._http = aiohttp.ClientSession()
        self.base_url = str(self._server.make_url("")).rstrip("/")
        return self.base_url

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await self._server.close()

    def local_now(self) -> datetime:
        tz = timezone(timedelta(hours=self.tz_hours))
        return (datetime.now(UTC) + self.clock_offset).astimezone(tz).replace(tzinfo=None)

    # ------------------------------------------------- Digest (RFC 7616, MD5, qop=auth)

    @web.middleware
    async def _digest(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.online:
            raise web.HTTPServiceUnavailable(text="offline")
        header = request.headers.get("Authorization", "")
        if header.startswith("Digest ") and self._valid(request, header[7:]):
            if self.read_only and request.method != "GET":
                return web.json_response(LOW_PRIVILEGE, status=403)
            return await handler(request)
        self.auth_failures += 1
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        opaque = secrets.token_hex(8)
        challenge = (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", opaque="{opaque}", algorithm=MD5'
        )
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    def _valid(self, request: web.Request, text: str) -> bool:
        f = {
            m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _AUTH_FIELD.finditer(text)
        }
        if f.get("username") != self.user or f.get("nonce") not in self._nonces:
            return False
        if f.get("uri") != request.path_qs:
            return False
        ha1 = _md5(f"{self.user}:{REALM}:{self.password}")
        ha2 = _md5(f"{request.method}:{f['uri']}")
        expected = _md5(
            f"{ha1}:{f['nonce']}:{f.get('nc', '')}:{f.get('cnonce', '')}:{f.get('qop', '')}:{ha2}"
        )
        return secrets.compare_digest(expected, f.get("response", ""))

    # ------------------------------------------------------------------ ISAPI

    async def _device_info(self, request: web.Request) -> web.Response:
        xml = (
            '<DeviceInfo xmlns="http://www.isapi.org/ver20/XMLSchema" version="2.0">'
            f"<deviceName>Gate</deviceName><model>DS-K1T671M</model><serialNumber>{self.serial}</serialNumber>"
            "<firmwareVersion>V3.2.30</firmwareVersion><deviceType>ACS</deviceType></DeviceInfo>"
        )
        return web.Response(text=xml, content_type="application/xml")

    async def _set_host(self, request: web.Request) -> web.Response:
        root = ET.fromstring(await request.read())

        def text(name: str) -> str:
            return next((el.text or "" for el in root.iter() if el.tag.endswith(name)), "")

        self.http_host = text("}url") or text("url")
        self.host_user, self.host_password = text("userName"), text("password")
        self.host_auth = text("httpAuthenticationMethod") or "none"
        return _ok()

    async def _set_time(self, request: web.Request) -> web.Response:
        root = ET.fromstring(await request.read())
        local = next((el.text or "" for el in root.iter() if el.tag.endswith("localTime")), "")
        told = datetime.strptime(local, TIME)
        self.clock_offset += told - self.local_now()
        return _ok()

    async def _user(self, request: web.Request) -> web.Response:
        info = (await request.json())["UserInfo"]
        valid = info.get("Valid", {})
        old = self.persons.get(info["employeeNo"])
        self.persons[info["employeeNo"]] = Person(
            info["employeeNo"],
            info.get("name", ""),
            datetime.strptime(valid["beginTime"], TIME),
            datetime.strptime(valid["endTime"], TIME),
            old.cards if old else set(),
            old.face if old else None,
        )
        return _ok()

    async def _delete(self, request: web.Request) -> web.Response:
        for item in (await request.json())["UserInfoDelCond"]["EmployeeNoList"]:
            self.persons.pop(item["employeeNo"], None)
        return _ok()

    async def _card(self, request: web.Request) -> web.Response:
        info = (await request.json())["CardInfo"]
        person = self.persons.get(info["employeeNo"])
        if person is None:
            return web.json_response(
                {
                    "statusCode": 6,
                    "statusString": "Invalid Content",
                    "subStatusCode": "employeeNoNotExist",
                },
                status=400,
            )
        person.cards.add(info["cardNo"])
        return _ok()

    async def _face(self, request: web.Request) -> web.Response:
        record: dict[str, Any] = {}
        image = b""
        async for part in await request.multipart():
            data = await part.read(decode=False)
            if part.name == "FaceDataRecord":
                record = json.loads(data)
            elif part.name == "img":
                image = bytes(data)
        person = self.persons.get(str(record.get("FPID")))
        if person is None or not image.startswith(b"\xff\xd8"):
            return web.json_response(
                {"statusCode": 6, "statusString": "Invalid Content", "subStatusCode": "badFace"},
                status=400,
            )
        person.face = image
        return _ok()

    async def _door(self, request: web.Request) -> web.Response:
        self.door_opens += 1
        return _ok()

    async def _search(self, request: web.Request) -> web.Response:
        cond = (await request.json())["AcsEventCond"]
        start, limit = int(cond["searchResultPosition"]), int(cond["maxResults"])
        rows = self.events[start : start + limit]
        more = start + len(rows) < len(self.events)
        return web.json_response(
            {
                "AcsEvent": {
                    "searchID": cond["searchID"],
                    "responseStatusStrg": "MORE" if more else "OK",
                    "numOfMatches": len(rows),
                    "totalMatches": len(self.events),
                    "InfoList": rows,
                }
            }
        )

    async def _remote_check(self, request: web.Request) -> web.Response:
        check = (await request.json())["RemoteCheck"]
        future = self._checks.pop(int(check["serialNo"]), None)
        if future is not None and not future.done():
            future.set_result(check["checkResult"] == "success")
        return _ok()

    # ------------------------------------------------------------------ at the door

    def _decide(self, key: str, *, face: bool) -> int:
        now = self.local_now()
        person = (
            self.persons.get(key)
            if face
            else next((p for p in self.persons.values() if key in p.cards), None)
        )
        if person is None or (face and person.face is None):
            return 0x4C if face else 0x09
        if not person.begin <= now <= person.end:
            return 0x4C if face else 0x08
        return 0x4B if face else 0x01

    def _event(
        self, minor: int, *, card: str = "", employee: str = "", mode: str, remote: bool = False
    ) -> dict[str, Any]:
        row = {
            "major": 5,
            "minor": minor,
            "time": self.local_now().strftime(TIME) + f"+{int(self.tz_hours):02d}:00",
            "cardNo": card,
            "employeeNoString": employee,
            "serialNo": len(self.events) + 1,
            "currentVerifyMode": mode,
            "cardReaderNo": 1,
        }
        if not remote:
            self.events.append(row)
        return row

    async def present_card(self, card: str) -> bool:
        minor = self._decide(card, face=False)
        await self._push(self._event(minor, card=card, mode="cardOrFace"))
        return minor == 0x01

    async def present_face(self, employee_no: str) -> bool:
        minor = self._decide(employee_no, face=True)
        person = self.persons.get(employee_no)
        await self._push(
            self._event(minor, employee=employee_no if person else "", mode="cardOrFace")
        )
        return minor == 0x4B

    async def present_qr(self, code: str, wait: float = 10.0) -> bool:
        """Remote verification: ask the server, wait for its remoteCheck, then log.

        ``wait`` is the terminal's remote-verification timeout (configurable on a real
        one). It is generous here: on a loaded machine a 3 s wait turned a slow answer
        into a refusal the bridge had already counted as an entry (the demo saw in-park
        79 against 78 admitted, once, with two test suites running side by side)."""
        if not self.online or not self.http_host:
            return False  # a QR code cannot be checked without the server
        ask = self._event(0x9C, card=code, mode="qrCode", remote=True)
        ask["serialNo"] = len(self.events) + 1
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._checks[ask["serialNo"]] = future
        await self._push(ask, remote=True)
        try:
            allowed = await asyncio.wait_for(future, wait)
        except TimeoutError:
            allowed = False
        self._event(0x9C if allowed else 0x9D, card=code[:32], mode="qrCode")
        return allowed

    async def _push(self, row: dict[str, Any], remote: bool = False) -> None:
        if not self.online or not self.http_host or self._http is None:
            return
        body = {
            "ipAddress": "127.0.0.1",
            "macAddress": "44:19:b6:00:00:01",
            "dateTime": row["time"],
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "AccessControllerEvent": {
                "majorEventType": row["major"],
                "subEventType": row["minor"],
                "cardNo": row["cardNo"],
                "employeeNoString": row["employeeNoString"],
                "serialNo": row["serialNo"],
                "currentVerifyMode": row["currentVerifyMode"],
                "cardReaderNo": row["cardReaderNo"],
                **({"remoteCheck": True} if remote else {}),
            },
        }
        headers: dict[str, str] = {}
        if self.picture:  # built whole, so the request can be sent again after a challenge
            boundary = "MIMEBoundary" + secrets.token_hex(8)
            data = _multipart(
                boundary,
                [
                    ("event_log", "application/json", "", json.dumps(body).encode()),
                    ("Picture", "image/jpeg", "snap.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 2048),
                ],
            )
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        kwargs: dict[str, Any] = {"data": data, "headers": headers}
        if self.host_auth == "MD5digest":  # as configured: answer the server's challenge
            kwargs["middlewares"] = (
                aiohttp.DigestAuthMiddleware(self.host_user, self.host_password),
            )
        try:
            async with self._http.post(self.http_host, **kwargs) as resp:
                await resp.read()
                if resp.status == 200:
                    self.pushed += 1
        except aiohttp.ClientError:
            pass  # the server is away: the event waits in the log for a search


def _multipart(boundary: str, parts: list[tuple[str, str, str, bytes]]) -> bytes:
    out = b""
    for name, ctype, filename, payload in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename else ""
        )
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _ok() -> web.Response:
    return web.json_response({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"})
