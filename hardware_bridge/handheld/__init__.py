"""The handheld checking page (人工核验通道, 移动检票): staff phones and hand-held terminals
on the venue LAN check tickets against THIS bridge, so it works with the hub down.

A scan arrives as keyboard input (a built-in scanner in keyboard-wedge mode types the QR
text and Enter into the focused field), from the phone's camera (the vendored jsQR
decodes frames in the page; nothing is fetched at run time), or as a typed ID-card
number. Each goes through the bridge's own decision (`BridgeHost.decide`) as the virtual
gate device ``handheld-<staff>``: logged, counted and uploaded like any gate's, so it is
in the flow wall and the reports. Manual admission without a ticket takes a reason and
counts in the in-park figure (`Bridge.manual_admission`).

Protected by the bridge's staff PIN (`hardware_bridge.handheld.sessions`). Everything
shown is escaped: the page is rendered with autoescaping and the script sets text only
(``textContent``), never HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hardware_bridge.handheld.reasons import INVALID_ID, explain
from hardware_bridge.handheld.sessions import Sessions, Staff
from hardware_bridge.settings import BridgeSettings
from hub.domain.gate import Medium, Scan
from hub.domain.rules.idcard import is_valid_id_card
from hub.sdk.web import ApiError, ApiRoutes, read_model

if TYPE_CHECKING:
    from hardware_bridge.runtime import Bridge

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_FILES = {
    "handheld.js": "text/javascript",
    "handheld.css": "text/css",
    "jsQR.js": "text/javascript",
}
_PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE), autoescape=True, undefined=jinja2.StrictUndefined
).get_template("page.html")
# Tight: the page runs only its own files; the camera is the one device it asks for.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
NAME = r"^[\w.\-· ]{1,32}$"


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: str = Field(min_length=1, max_length=32, pattern=NAME)
    pin: str = Field(min_length=1, max_length=64)
    gate: str = Field(default="handheld", min_length=1, max_length=32, pattern=NAME)


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=1024)
    medium: Literal["qr", "id_card"] = "qr"


class AdmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)
    count: int = Field(default=1, ge=1, le=100)


def _shown(allow: bool, code: str, reason: str, **more: object) -> web.Response:
    zh, en = explain(allow, code, reason)
    return web.json_response({"allow": allow, "code": code, "zh": zh, "en": en, **more})


def add_handheld(routes: ApiRoutes, bridge: Bridge, settings: BridgeSettings) -> Sessions:
    """Mount the page and its API under ``/handheld/``."""
    sessions = Sessions(settings.handheld_pin)

    def staff_of(request: web.Request) -> Staff:
        return sessions.staff(request.headers.get("Authorization", ""))

    @routes.get(
        "/handheld/",
        summary="The handheld checking page (staff phones)",
        tag="handheld",
        media="text/html",
    )
    async def page(request: web.Request) -> web.Response:
        html = _PAGE.render(
            bridge=settings.bridge_id, venue=settings.venue_id, enabled=bool(settings.handheld_pin)
        )
        resp = web.Response(text=html, content_type="text/html")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @routes.get("/handheld", summary="To the handheld page (/handheld/)", tag="handheld")
    async def to_page(request: web.Request) -> web.Response:
        raise web.HTTPFound("/handheld/")

    @routes.get(
        "/handheld/static/{name}",
        summary="The page's script, style and jsQR",
        tag="handheld",
        media="text/javascript",
    )
    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise ApiError(404, "NOT_FOUND", "No such file")
        resp = web.FileResponse(STATIC / name)
        resp.content_type = STATIC_FILES[name]
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    @routes.post(
        "/handheld/api/session",
        summary="Sign in with the bridge's staff PIN",
        tag="handheld",
        body=SessionIn,
    )
    async def session(request: web.Request) -> web.Response:
        body = await read_model(request, SessionIn)
        token = sessions.login(request.remote or "", body.pin, body.staff.strip(), body.gate)
        who = Staff(body.staff.strip(), body.gate)
        return web.json_response({"token": token, "staff": who.name, "device": who.device})

    @routes.get("/handheld/api/status", summary="Link state and today's admissions", tag="handheld")
    async def status(request: web.Request) -> web.Response:
        who = staff_of(request)
        return web.json_response(
            {
                "bridge": settings.bridge_id,
                "venue": settings.venue_id,
                "online": bridge.link.state.online,
                "admitted_today": bridge.admitted_today(),
                "staff": who.name,
                "device": who.device,
            }
        )

    @routes.post(
        "/handheld/api/check",
        summary="Check a scanned QR or a typed ID number",
        tag="handheld",
        body=CheckIn,
    )
    async def check(request: web.Request) -> web.Response:
        who = staff_of(request)
        body = await read_model(request, CheckIn)
        value = body.value.strip()
        medium = Medium(body.medium)
        if medium is Medium.ID_CARD:
            value = value.upper()
            if not is_valid_id_card(value):
                zh, en = INVALID_ID
                return web.json_response(
                    {"allow": False, "code": "INVALID_ID_NUMBER", "zh": zh, "en": en}
                )
        if not value:
            raise ApiError(400, "INVALID_REQUEST", "value: nothing scanned")
        scan = Scan(device_id=who.device, gate=who.gate, medium=medium, value=value)
        d = await bridge.host.decide(scan, virtual=True)
        return _shown(
            d.allow,
            d.code,
            d.reason,
            id=d.id,
            ticket_id=d.ticket_id,
            entries_left=d.entries_left,
            offline=d.offline,
        )

    @routes.post(
        "/handheld/api/admit",
        summary="Admit without a ticket (reason, staff)",
        tag="handheld",
        body=AdmitIn,
    )
    async def admit(request: web.Request) -> web.Response:
        who = staff_of(request)
        body = await read_model(request, AdmitIn)
        result = bridge.manual_admission(
            staff=who.name,
            reason=body.reason.strip() or body.reason,
            gate=who.gate,
            device_id=who.device,
            count=body.count,
        )
        return _shown(
            True,
            "MANUAL",
            "",
            count=result["count"],
            offline=result["offline"],
            admitted_today=bridge.admitted_today(),
        )

    return sessions
