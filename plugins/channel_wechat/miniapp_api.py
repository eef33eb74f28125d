"""The API the mini-program's front end calls, under ``/api/wechat/``.

Errors are the hub's JSON ``{"code", "message"}`` with an HTTP status (the front end shows
``message``); a WeChat-side failure keeps WeChat's number in ``details.errcode``. Every
call but login carries ``Authorization: Bearer <token>`` from login; the WeChat
``session_key`` behind it stays in the hub.
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from wechatpy.crypto import WeChatWxaCrypto

from hub.sdk import Order, OrderLine, OrderRequest, OrderState, Visitor
from hub.sdk.faces import PHOTO, FaceError, face_error, read_photo, visitor_index
from hub.sdk.web import NO_BODY, ApiError, outcome_response, query_day, read_model
from plugins.channel_wechat.messages import WeChatApiError, get_json
from plugins.channel_wechat.notifications import Refused
from plugins.channel_wechat.pay_api import PayError, Prepay
from plugins.channel_wechat.trades import SESSION_TTL, mask_openid

if TYPE_CHECKING:
    from hub.sdk.web import ApiRoutes
    from plugins.channel_wechat.channel import WeChatChannel

log = logging.getLogger(__name__)
PREPAY_REUSE_SECONDS = 3600  # a prepay_id lives two hours; reuse it for one
AUTH = "wechat-session"
SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "The mini-program's session: `Authorization: Bearer <token>` from "
    "`POST /api/wechat/login`; a missing, unknown or expired token is a 401 LOGIN_REQUIRED.",
}
MINE = {404: "not your order"}


class Login(BaseModel):
    js_code: str = Field(min_length=1, max_length=128)


class NewOrder(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    client_key: str = Field(min_length=8, max_length=64, description="idempotency key")
    product_id: str = Field(min_length=1, max_length=64)
    travel_date: date
    slot: str = Field(default="", max_length=32)
    quantity: int = Field(ge=1, le=20)
    visitors: list[Visitor] = Field(default_factory=list, max_length=20)


class RefundAsk(BaseModel):
    request_no: str = Field(min_length=4, max_length=64, description="idempotency key")
    ticket_ids: list[str] | None = Field(default=None, max_length=20)


class PhoneAsk(BaseModel):
    encrypted_data: str = Field(min_length=16, max_length=4096)
    iv: str = Field(min_length=16, max_length=64)


def view(order: Order, out_trade: str) -> dict[str, Any]:
    """An order as the mini-program shows it: masked visitors, QR payloads."""
    return {
        "out_trade_no": out_trade,
        "order_id": order.id,
        "state": order.state.value,
        "travel_date": order.travel_date.isoformat(),
        "slot": order.slot,
        "amount": order.amount,
        "hold_expires_at": order.hold_expires_at.isoformat() if order.hold_expires_at else None,
        "visitors": [v.masked() for v in order.visitors],
        "tickets": [
            {"id": t.id, "product_id": t.product_id, "state": t.state.value, "qr": t.credential}
            for t in order.tickets
        ],
    }


def mount(channel: WeChatChannel, routes: ApiRoutes) -> None:
    routes.scheme(AUTH, SCHEME)

    def configured() -> Any:
        if channel.config is None:
            raise ApiError(503, "NOT_CONFIGURED", f"WeChat channel: {channel.problem}")
        return channel.config

    async def user(request: web.Request) -> dict[str, Any]:
        configured()
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        session = await channel.trades.session(token) if token else None
        if session is None:
            raise ApiError(401, "LOGIN_REQUIRED", "Log in again")
        return session

    async def own_trade(request: web.Request) -> tuple[dict[str, Any], dict[str, Any], Order]:
        session = await user(request)
        out_trade = request.match_info["out_trade_no"]
        trade = await channel.trades.get(out_trade)
        if trade is None or trade["openid"] != session["openid"]:
            raise ApiError(404, "UNKNOWN_ORDER", "No such order")
        order = await channel.orders.get(str(trade["order_id"]))
        if order is None:
            raise ApiError(404, "UNKNOWN_ORDER", "No such order")
        return session, trade, order

    @routes.post(
        "/api/wechat/login",
        summary="Exchange wx.login()'s code for a session",
        tag="wechat",
        body=Login,
        responses={
            200: "OK",
            401: "WeChat refused the login code",
            503: "WeChat did not answer; try again",
        },
    )
    async def login(request: web.Request) -> web.Response:
        cfg = configured()
        ask = await read_model(request, Login)
        try:
            doc = await get_json(
                channel.http(),
                "GET",
                f"{cfg.api_base}/sns/jscode2session",
                params={
                    "appid": cfg.appid,
                    "secret": cfg.secret,
                    "js_code": ask.js_code,
                    "grant_type": "authorization_code",
                },
            )
        except WeChatApiError as exc:
            if exc.retryable:
                raise ApiError(
                    503,
                    "WECHAT_UNAVAILABLE",
                    "WeChat did not answer; try again",
                    errcode=exc.errcode,
                ) from None
            raise ApiError(
                401, "LOGIN_FAILED", "WeChat refused the login code", errcode=exc.errcode
            ) from None
        openid, session_key = doc.get("openid"), doc.get("session_key")
        if not isinstance(openid, str) or not isinstance(session_key, str):
            raise ApiError(503, "WECHAT_UNAVAILABLE", "WeChat answered without a session")
        token = secrets.token_urlsafe(32)
        await channel.trades.new_session(
            token, {"openid": openid, "session_key": session_key, "unionid": doc.get("unionid")}
        )
        log.info("wechat login of %s", mask_openid(openid))
        return web.json_response({"token": token, "expires_in": int(SESSION_TTL.total_seconds())})

    @routes.get(
        "/api/wechat/availability",
        summary="Slots of a day with places and price",
        tag="wechat",
        query={"product_id": "product", "date": "YYYY-MM-DD"},
        auth=AUTH,
        responses={200: "OK", 400: "no or bad date", 404: "unknown product"},
    )
    async def availability(request: web.Request) -> web.Response:
        await user(request)
        day = query_day(request)
        product = request.query.get("product_id", "")
        got = await channel.orders.availability(product, day, channel.name)
        if "code" in got:
            raise ApiError(404, str(got["code"]), str(got.get("message", "")))
        return web.json_response(got)

    @routes.post(
        "/api/wechat/orders",
        summary="Hold places and get wx.requestPayment params",
        tag="wechat",
        body=NewOrder,
        responses={
            201: "held; pay with `payment`",
            409: "sold out / limit",
            503: "WeChat Pay did not answer; try again",
        },
        auth=AUTH,
    )
    async def create(request: web.Request) -> web.Response:
        session = await user(request)
        ask = await read_model(request, NewOrder)
        openid = str(session["openid"])
        out_trade = await channel.trades.out_trade_no(openid, ask.client_key)
        placed = await channel.orders.place(
            OrderRequest(
                channel=channel.name,
                partner_order_id=out_trade,
                lines=(OrderLine(product_id=ask.product_id, quantity=ask.quantity),),
                visitors=tuple(ask.visitors),
                travel_date=ask.travel_date,
                slot=ask.slot,
            )
        )
        if not placed.ok:
            return outcome_response(placed)
        order = Order.model_validate(placed.body["order"])
        trade = await channel.trades.get(out_trade)
        if trade is None:
            trade = {
                "out_trade_no": out_trade,
                "order_id": order.id,
                "openid": openid,
                "amount": order.amount,
                "description": f"{ask.product_id} {ask.travel_date.isoformat()} x{ask.quantity}",
                "created": channel.now_dt().strftime("%Y%m%d%H%M%S%f"),  # sorts "my orders"
            }
            await channel.trades.put(out_trade, trade)
        body: dict[str, Any] = {"order": view(order, out_trade), "payment": None}
        if order.state is OrderState.HELD:
            body["payment"] = await prepay(trade, order)
        return web.json_response(body, status=201)

    async def prepay(trade: dict[str, Any], order: Order) -> dict[str, str]:
        cached = trade.get("prepay")
        if cached and channel.now() - float(cached["at"]) < PREPAY_REUSE_SECONDS:
            return dict(cached["params"])
        assert channel.pay is not None
        try:
            params = await channel.pay.prepay(
                Prepay(trade["out_trade_no"], trade["description"], order.amount, trade["openid"])
            )
        except PayError as exc:
            log.warning("wechat prepay of %s failed: %s", trade["out_trade_no"], exc)
            await channel.payment_failed("prepay", exc.code, trade["out_trade_no"])
            raise ApiError(
                503,
                "PAYMENT_UNAVAILABLE",
                "WeChat Pay did not answer; try again",
                wechat_code=exc.code,
            ) from None
        await channel.trades.put(
            trade["out_trade_no"], {**trade, "prepay": {"at": channel.now(), "params": params}}
        )
        return params

    @routes.get("/api/wechat/orders", summary="My orders, newest first", tag="wechat", auth=AUTH)
    async def mine(request: web.Request) -> web.Response:
        session = await user(request)
        out: list[dict[str, Any]] = []
        for out_trade in await channel.trades.of_user(str(session["openid"])):
            trade = await channel.trades.get(out_trade)
            order = await channel.orders.get(str(trade["order_id"])) if trade else None
            if order is not None:
                out.append(view(order, out_trade))
        return web.json_response({"orders": out})

    @routes.get(
        "/api/wechat/orders/{out_trade_no}",
        summary="One order and its QR tickets",
        tag="wechat",
        auth=AUTH,
        responses={200: "OK", **MINE},
    )
    async def one(request: web.Request) -> web.Response:
        _, trade, order = await own_trade(request)
        if order.state is OrderState.HELD and trade.get("prepay") and channel.notifications:
            # The visitor paid but no notice came (yet)? WeChat's order query says so.
            try:
                if await channel.notifications.reconcile(trade["out_trade_no"]):
                    order = await channel.orders.get(order.id) or order
            except (PayError, Refused) as exc:
                log.warning("wechat query of %s failed: %s", trade["out_trade_no"], exc)
        return web.json_response({"order": view(order, trade["out_trade_no"])})

    @routes.post(
        "/api/wechat/orders/{out_trade_no}/cancel",
        summary="Cancel a held order (WeChat's order is closed)",
        tag="wechat",
        body=NO_BODY,
        auth=AUTH,
        responses={200: "cancelled (also when it already was)", **MINE, 409: "paid"},
    )
    async def cancel(request: web.Request) -> web.Response:
        _, trade, order = await own_trade(request)
        if order.state is not OrderState.HELD and order.state is not OrderState.CANCELLED:
            raise ApiError(409, "INVALID_STATE", "Paid orders are refunded, not cancelled")
        done = await channel.orders.cancel(
            order.id, key=f"wechat\x1fcancel\x1f{trade['out_trade_no']}"
        )
        if not done.ok:
            return outcome_response(done)
        return web.json_response(
            {"order": view(Order.model_validate(done.body["order"]), trade["out_trade_no"])}
        )

    @routes.post(
        "/api/wechat/orders/{out_trade_no}/refund",
        summary="Refund unused tickets (money back through WeChat Pay)",
        tag="wechat",
        body=RefundAsk,
        auth=AUTH,
        responses={
            200: "refunded",
            **MINE,
            409: "not paid / nothing to refund / request_no reused for another refund",
        },
    )
    async def refund(request: web.Request) -> web.Response:
        _, trade, order = await own_trade(request)
        ask = await read_model(request, RefundAsk)
        done = await channel.orders.refund(
            order.id,
            ask.ticket_ids,
            key=f"wechat\x1frefund\x1f{trade['out_trade_no']}\x1f{ask.request_no}",
        )
        if not done.ok:
            return outcome_response(done)
        return web.json_response(
            {
                "order": view(Order.model_validate(done.body["order"]), trade["out_trade_no"]),
                "refunded_tickets": done.body.get("refunded_tickets", []),
                "refunded_amount": done.body.get("refunded_amount", 0),
            }
        )

    face_path = "/api/wechat/orders/{out_trade_no}/visitors/{index}/face"

    def face_service() -> Any:
        assert channel.ctx is not None
        return channel.ctx.faces

    @routes.put(
        face_path,
        summary="Enroll (or replace) a visitor's face photo: the body is the JPEG itself",
        tag="wechat",
        body=PHOTO,
        auth=AUTH,
        responses={
            200: "enrolled",
            400: "not a JPEG",
            404: "not your order / no such visitor",
            409: "not paid / not real-name / ticket no longer valid",
            413: "photo too large",
            422: "photo too small",
        },
    )
    async def enroll_face(request: web.Request) -> web.Response:
        _, trade, order = await own_trade(request)
        index = visitor_index(request)
        faces = face_service()
        photo = await read_photo(request, faces.max_bytes)
        try:
            result = await faces.enroll(order, index, photo, source=channel.name)
        except FaceError as exc:
            face_error(exc)
        return web.json_response({"out_trade_no": trade["out_trade_no"], **result})

    @routes.route(
        "DELETE",
        face_path,
        summary="Withdraw a visitor's face photo",
        tag="wechat",
        auth=AUTH,
        responses={
            200: "deleted (or there was none)",
            400: "the index is not a number from 0",
            404: "not your order / no visitor",
        },
    )
    async def withdraw_face(request: web.Request) -> web.Response:
        _, trade, order = await own_trade(request)
        index = visitor_index(request)
        try:
            removed = await face_service().remove(order, index)
        except FaceError as exc:
            face_error(exc)
        return web.json_response(
            {"out_trade_no": trade["out_trade_no"], "visitor": index, "removed": removed}
        )

    @routes.post(
        "/api/wechat/phone",
        summary="Decrypt the phone number the visitor shared",
        tag="wechat",
        body=PhoneAsk,
        auth=AUTH,
        responses={200: "OK", 400: "cannot decrypt (or a malformed body)"},
    )
    async def phone(request: web.Request) -> web.Response:
        session = await user(request)
        ask = await read_model(request, PhoneAsk)
        cfg = configured()
        try:
            data = WeChatWxaCrypto(session["session_key"], ask.iv, cfg.appid).decrypt_message(
                ask.encrypted_data
            )
        except Exception:  # bad base64 / padding / JSON / watermark: all "cannot decrypt"
            raise ApiError(
                400, "DECRYPT_FAILED", "Cannot read the shared data; log in again"
            ) from None
        number = data.get("purePhoneNumber") or data.get("phoneNumber")
        if not isinstance(number, str):
            raise ApiError(400, "DECRYPT_FAILED", "No phone number in the shared data")
        return web.json_response(
            {"phone": number, "country_code": str(data.get("countryCode", ""))}
        )
