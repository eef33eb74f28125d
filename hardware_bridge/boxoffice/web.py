"""The ticket-window page (``/boxoffice``, Chinese first) and the JSON API
(``/api/boxoffice/…``) of the emergency box office, served by the bridge's own app.

Who may sell: the bridge has no staff accounts (the hub's console has them, and the hub
is exactly what is unreachable here). The page asks for the bridge's box-office PIN
(``TICKETHUB_BRIDGE_BOXOFFICE_PIN``; the staff token when unset) once and keeps an
HttpOnly, SameSite=Strict cookie derived from it — changing the PIN signs everyone out;
the API takes the staff token as a bearer token like the bridge's other admin routes.
SameSite=Strict plus an Origin check keeps other sites from posting sales through a
signed-in browser. The page is for the venue LAN: the bridge should not be exposed to
the internet (it is not today either).

A form carries a random ``sale_key``: pressing "sell" twice, or the browser re-posting,
answers the first sale instead of selling again (`BoxOffice.sell`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hardware_bridge.boxoffice.printing import find_font, print_escpos, ticket_pdf
from hardware_bridge.boxoffice.sales import Sale, SaleRefused
from hardware_bridge.pin import PinCheck
from hardware_bridge.settings import BridgeSettings
from hub.sdk.web import ApiError, ApiRoutes, read_model
from hub.sdk.web.auth import bearer_matches
from hub.sdk.web.routing import NO_BODY, raw_body

if TYPE_CHECKING:
    from hardware_bridge.runtime import Bridge

COOKIE = "th_boxoffice"
_PIN_ERRORS = {
    "WRONG_PIN": "口令错误 / wrong PIN",
    "TOO_MANY_TRIES": "尝试次数过多，请一分钟后再试 / too many tries, wait a minute",
}
FORM = raw_body("application/x-www-form-urlencoded", description="the page's form")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
)


class SaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=64)
    date: date
    slot: str = Field(default="", max_length=32)
    quantity: int = Field(default=1, ge=1, le=20)
    payment: Literal["cash", "external"]
    payment_ref: str = Field(default="", max_length=128)
    staff: str = Field(min_length=1, max_length=64)
    sale_key: str = Field(default="", pattern=r"^[A-Za-z0-9_\-]{0,64}$")


def _pin(settings: BridgeSettings) -> str:
    return settings.boxoffice_pin or settings.admin_token


def _session_value(settings: BridgeSettings) -> str:
    key = _pin(settings).encode()
    return hmac.new(key, f"boxoffice:{settings.bridge_id}".encode(), hashlib.sha256).hexdigest()


def _signed_in(request: web.Request, settings: BridgeSettings) -> bool:
    return hmac.compare_digest(request.cookies.get(COOKIE, ""), _session_value(settings))


def _same_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin and origin not in ("null", f"{request.scheme}://{request.host}"):
        raise ApiError(403, "FORBIDDEN", "cross-site form post refused")


def _sale_of(bridge: Bridge, order_id: str) -> Sale:
    sale = bridge.boxoffice.order(order_id)
    if sale is None:
        raise ApiError(404, "UNKNOWN_ORDER", f"no emergency order {order_id}")
    return sale


def _printer(settings: BridgeSettings) -> tuple[str, int] | None:
    if not settings.ticket_printer:
        return None
    host, _, port = settings.ticket_printer.partition(":")
    return host, int(port or 9100)


async def print_sale(bridge: Bridge, sale: Sale) -> int:
    where = _printer(bridge.settings)
    if where is None:
        raise ApiError(409, "NO_PRINTER", "no ESC/POS printer configured (TICKET_PRINTER)")
    try:
        return await asyncio.to_thread(print_escpos, sale, where[0], where[1])
    except OSError as exc:
        raise ApiError(
            502, "PRINTER_UNREACHABLE", f"printer {where[0]}:{where[1]}: {exc}"
        ) from None


def pdf_response(bridge: Bridge, sale: Sale) -> web.Response:
    view = bridge.decider.view
    body = ticket_pdf(
        sale,
        venue_name=view.venue_id if view else "",
        font=find_font(bridge.settings.ticket_font),
    )
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{sale.order_id}.pdf"'},
    )


def add_routes(
    routes: ApiRoutes, settings: BridgeSettings, bridge_of: Callable[[web.Request], Bridge]
) -> None:
    pin = PinCheck(_pin(settings), off_code="BOXOFFICE_OFF", off_reason="no box-office PIN set")

    def page(request: web.Request, status: int = 200, **extra: Any) -> web.Response:
        bridge = bridge_of(request)
        ctx: dict[str, Any] = {"signed_in": _signed_in(request, settings), **extra}
        if ctx["signed_in"]:
            status_now = bridge.emergency_status()
            view = bridge.decider.view
            allotted = bridge.boxoffice.allotments()
            pools = {a["pool"] for a in allotted}
            products = [
                p for p in (view.products.values() if view else []) if p.pool in pools and p.active
            ]
            today = bridge.decider.day(bridge.clock.now())
            ctx |= {
                "bridge_id": settings.bridge_id,
                "venue_id": settings.venue_id,
                "online": bridge.link.state.online,
                "allotments": allotted,
                "products": products,
                "slots": sorted({a["slot"] for a in allotted if a["day"] >= today}),
                "today": today,
                "orders": bridge.boxoffice.orders(30),
                "sale_key": secrets.token_hex(12),
                "printer": _printer(settings) is not None,
                **{k: status_now[k] for k in ("public_key", "key_id", "key_valid_until")},
            }
        html = _TEMPLATES.get_template("window.html").render(**ctx)
        return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)

    def staff(request: web.Request) -> Bridge:
        if not (_signed_in(request, settings) or bearer_matches(request, settings.admin_token)):
            raise ApiError(401, "UNAUTHORIZED", "sign in at /boxoffice or send the staff token")
        return bridge_of(request)

    @routes.get("/boxoffice", summary="The emergency ticket window (page)", tag="boxoffice")
    async def window(request: web.Request) -> web.Response:
        sold = None
        if _signed_in(request, settings) and request.query.get("sold"):
            sold = bridge_of(request).boxoffice.order(request.query["sold"])
        return page(request, sold=sold)

    @routes.post("/boxoffice/login", summary="Sign in with the PIN", tag="boxoffice", body=FORM)
    async def login(request: web.Request) -> web.Response:
        _same_origin(request)
        form = await request.post()
        try:
            pin.check(request.remote or "", str(form.get("pin", "")))
        except ApiError as exc:
            return page(request, status=exc.status, error=_PIN_ERRORS.get(exc.code, exc.message))
        resp = web.HTTPSeeOther("/boxoffice")
        resp.set_cookie(COOKIE, _session_value(settings), httponly=True, samesite="Strict")
        raise resp

    @routes.post("/boxoffice/sell", summary="Sell from the page's form", tag="boxoffice", body=FORM)
    async def sell_form(request: web.Request) -> web.Response:
        _same_origin(request)
        bridge = staff(request)
        form = await request.post()
        try:
            body = SaleIn.model_validate({k: v for k, v in form.items() if v != ""})
        except ValueError as exc:
            return page(
                request, status=422, refused={"code": "INVALID_REQUEST", "reason": str(exc)}
            )
        try:
            sale = await _sell(bridge, body)
        except SaleRefused as exc:
            return page(request, status=409, refused={"code": exc.code, "reason": exc.reason})
        raise web.HTTPSeeOther(f"/boxoffice?sold={sale.order_id}")

    @routes.post(
        "/boxoffice/orders/{order_id}/print",
        summary="Print an emergency order on the ESC/POS printer (page)",
        tag="boxoffice",
        body=NO_BODY,
    )
    async def print_form(request: web.Request) -> web.Response:
        _same_origin(request)
        bridge = staff(request)
        sale = _sale_of(bridge, request.match_info["order_id"])
        await print_sale(bridge, sale)
        raise web.HTTPSeeOther(f"/boxoffice?sold={sale.order_id}")

    @routes.get(
        "/boxoffice/orders/{order_id}/ticket.pdf",
        summary="The tickets of an emergency order as a PDF with their QR codes",
        tag="boxoffice",
        media="application/pdf",
    )
    async def pdf(request: web.Request) -> web.Response:
        bridge = staff(request)
        return pdf_response(bridge, _sale_of(bridge, request.match_info["order_id"]))

    @routes.post(
        "/api/boxoffice/sales",
        summary="Sell emergency tickets (the hub unreachable): 201 the sale, 409 refused "
        "with its reason (ALLOTMENT_EXHAUSTED, SLOT_ENDED, NO_ALLOTMENT, HUB_REACHABLE, "
        "NO_CERTIFIED_KEY…)",
        tag="boxoffice",
        body=SaleIn,
    )
    async def sell_api(request: web.Request) -> web.Response:
        bridge = staff(request)
        body = await read_model(request, SaleIn)
        try:
            sale = await _sell(bridge, body)
        except SaleRefused as exc:
            raise ApiError(409, exc.code, exc.reason) from None
        return web.json_response(sale.as_dict(), status=201)

    @routes.post(
        "/api/boxoffice/orders/{order_id}/print",
        summary="Print an emergency order on the configured ESC/POS printer",
        tag="boxoffice",
        body=NO_BODY,
    )
    async def print_api(request: web.Request) -> web.Response:
        bridge = staff(request)
        printed = await print_sale(bridge, _sale_of(bridge, request.match_info["order_id"]))
        return web.json_response({"printed": printed})

    @routes.get(
        "/api/boxoffice/status",
        summary="The box office: key, certificate, allotments, orders by sync state",
        tag="boxoffice",
    )
    async def status(request: web.Request) -> web.Response:
        return web.json_response(staff(request).emergency_status())


async def _sell(bridge: Bridge, body: SaleIn) -> Sale:
    sale = bridge.boxoffice.sell(
        product_id=body.product_id,
        day=body.date,
        slot=body.slot,
        quantity=body.quantity,
        payment=body.payment,
        payment_ref=body.payment_ref,
        staff=body.staff,
        now=bridge.clock.now(),
        sale_key=body.sale_key,
    )
    await bridge.emergency_sold(sale)
    return sale
