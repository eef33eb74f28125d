"""The ISAPI calls the bridge makes to a Hikvision terminal, with Digest authentication.

HTTP goes through the bridge's shared aiohttp session with aiohttp's own
`DigestAuthMiddleware` per request (no hand-written Digest). Every failure becomes a
`DeviceError` whose message staff can act on ("wrong password", "unreachable"), using the
``statusString`` / ``subStatusCode`` the terminal sends back; a refused login (401) or a
user without the rights (403) is a `DeviceAuthError`, which onboarding reports as
``AUTH_FAILED``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp

from hub.sdk import DeviceAuthError, DeviceError, DeviceInfo

XMLNS = "http://www.isapi.org/ver20/XMLSchema"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _text(root: ET.Element, name: str) -> str:
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == name:
            return (el.text or "").strip()
    return ""


class Isapi:
    """One terminal: base URL and credentials (from the device's onboarding options)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        user: str,
        password: str,
        *,
        timeout: float = 5.0,
    ) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.auth = aiohttp.DigestAuthMiddleware(user, password, preemptive=True)
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        xml: str | None = None,
        data: Any = None,
    ) -> bytes:
        kwargs: dict[str, Any] = {"middlewares": (self.auth,), "timeout": self.timeout}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode()
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif xml is not None:
            kwargs["data"] = xml.encode()
            kwargs["headers"] = {"Content-Type": "application/xml"}
        elif data is not None:
            kwargs["data"] = data
        try:
            async with self.http.request(method, f"{self.base}{path}", **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise DeviceError(f"terminal {self.base} did not answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeviceError(f"terminal {self.base} unreachable: {type(exc).__name__}") from exc
        if status == 401:
            raise DeviceAuthError(f"terminal {self.base} refused the user name or password")
        if status == 403:
            raise DeviceAuthError(
                f"terminal {self.base} refused {path} to this user: {_reason(raw) or 'forbidden'}"
                " (use an administrator account)"
            )
        if status >= 400:
            raise DeviceError(f"terminal {self.base} refused {path}: {_reason(raw) or status}")
        return raw

    async def device_info(self) -> DeviceInfo:
        raw = await self.call("GET", "/ISAPI/System/deviceInfo")
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise DeviceError(f"terminal {self.base} sent no DeviceInfo") from exc
        serial = _text(root, "serialNumber")
        if not serial:
            raise DeviceError(f"terminal {self.base} did not tell its serial number")
        return DeviceInfo(
            serial=serial, model=_text(root, "model"), firmware=_text(root, "firmwareVersion")
        )

    async def set_http_host(self, url: str, user: str, password: str) -> None:
        """Where the terminal POSTs its events (host 1), and the Digest user and password
        it answers the bridge's challenge with (the bridge refuses events without)."""
        xml = (
            f'<HttpHostNotificationList xmlns="{XMLNS}"><HttpHostNotification>'
            f"<id>1</id><url>{_escape(url)}</url><protocolType>HTTP</protocolType>"
            "<parameterFormatType>JSON</parameterFormatType><addressingFormatType>ipaddress"
            f"</addressingFormatType><userName>{_escape(user)}</userName>"
            f"<password>{_escape(password)}</password>"
            "<httpAuthenticationMethod>MD5digest</httpAuthenticationMethod>"
            "</HttpHostNotification></HttpHostNotificationList>"
        )
        await self.call("PUT", "/ISAPI/Event/notification/httpHosts", xml=xml)

    async def set_time(self, now: datetime, tz_hours: float) -> None:
        tz = timezone(timedelta(hours=tz_hours))
        local = now.astimezone(tz).strftime(TIME_FORMAT)
        sign = "-" if tz_hours >= 0 else "+"  # POSIX TZ strings invert the sign
        hours = abs(int(tz_hours))
        xml = (
            f'<Time xmlns="{XMLNS}"><timeMode>manual</timeMode><localTime>{local}</localTime>'
            f"<timeZone>CST{sign}{hours}:00:00</timeZone></Time>"
        )
        await self.call("PUT", "/ISAPI/System/time", xml=xml)

    async def upsert_user(
        self, employee_no: str, name: str, begin: datetime, end: datetime, tz_hours: float
    ) -> None:
        tz = timezone(timedelta(hours=tz_hours))
        doc = {
            "UserInfo": {
                "employeeNo": employee_no,
                "name": name[:32],
                "userType": "normal",
                "Valid": {
                    "enable": True,
                    "beginTime": begin.astimezone(tz).strftime(TIME_FORMAT),
                    "endTime": end.astimezone(tz).strftime(TIME_FORMAT),
                    "timeType": "local",
                },
            }
        }
        await self.call("PUT", "/ISAPI/AccessControl/UserInfo/SetUp?format=json", json_body=doc)

    async def set_card(self, employee_no: str, card_no: str) -> None:
        doc = {"CardInfo": {"employeeNo": employee_no, "cardNo": card_no, "cardType": "normalCard"}}
        await self.call("PUT", "/ISAPI/AccessControl/CardInfo/SetUp?format=json", json_body=doc)

    async def set_face(self, employee_no: str, jpeg: bytes) -> None:
        form = aiohttp.FormData()
        record = {"faceLibType": "blackFD", "FDID": "1", "FPID": employee_no}
        form.add_field("FaceDataRecord", json.dumps(record), content_type="application/json")
        form.add_field("img", jpeg, filename="face.jpg", content_type="image/jpeg")
        await self.call("POST", "/ISAPI/Intelligent/FDLib/FaceDataRecord?format=json", data=form)

    async def delete_user(self, employee_no: str) -> None:
        doc = {"UserInfoDelCond": {"EmployeeNoList": [{"employeeNo": employee_no}]}}
        await self.call("PUT", "/ISAPI/AccessControl/UserInfo/Delete?format=json", json_body=doc)

    async def open_door(self, door: int) -> None:
        xml = f'<RemoteControlDoor xmlns="{XMLNS}"><cmd>open</cmd></RemoteControlDoor>'
        await self.call("PUT", f"/ISAPI/AccessControl/RemoteControl/door/{door}", xml=xml)

    async def search_events(self, search_id: str, position: int, limit: int = 30) -> dict[str, Any]:
        doc = {
            "AcsEventCond": {
                "searchID": search_id,
                "searchResultPosition": position,
                "maxResults": limit,
                "major": 0,
                "minor": 0,
            }
        }
        raw = await self.call("POST", "/ISAPI/AccessControl/AcsEvent?format=json", json_body=doc)
        try:
            result = json.loads(raw)["AcsEvent"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DeviceError(f"terminal {self.base} sent a malformed AcsEvent page") from exc
        if not isinstance(result, dict):
            raise DeviceError(f"terminal {self.base} sent a malformed AcsEvent page")
        return result

    async def remote_check(self, serial_no: int, allow: bool) -> None:
        doc = {
            "RemoteCheck": {"serialNo": serial_no, "checkResult": "success" if allow else "failed"}
        }
        await self.call("PUT", "/ISAPI/AccessControl/remoteCheck?format=json", json_body=doc)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reason(raw: bytes) -> str:
    """ISAPI's ResponseStatus, JSON or XML: ``statusString (subStatusCode)``."""
    try:
        doc = json.loads(raw)
        return f"{doc.get('statusString', '')} ({doc.get('subStatusCode', '')})".strip()
    except (ValueError, AttributeError):
        pass
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return ""
    return f"{_text(root, 'statusString')} ({_text(root, 'subStatusCode')})"
