"""api.weixin.qq.com: mini-program login, access tokens and subscribe messages.

Answers are WeChat's: JSON with ``errcode``/``errmsg`` on failure (HTTP 200, as WeChat
does), the real error numbers (40013 bad appid, 40125 bad secret, 40029 bad code, 40001
invalid token, 42001 expired token, 45011 rate limit …).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.wechat.config import (
    ACCESS_TOKEN_TTL,
    JS_CODE_TTL,
    OLD_TOKEN_GRACE,
    Clock,
    WeChatSimConfig,
)
from sandbox.wechat.keys import cbc_encrypt_b64, random_str


def wx_error(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {random_str(8)}"})


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object; None for anything else, which WeChat answers with
    errcode 47001 "data format error"."""
    try:
        body = json.loads(await request.text())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@dataclass
class JsCode:
    openid: str
    issued_at: float
    used: bool = False


@dataclass
class AccessToken:
    token: str
    issued_at: float
    expires_at: float


@dataclass
class SubscribeMessage:
    touser: str
    template_id: str
    page: str | None
    data: dict[str, Any]
    msgid: int
    access_token: str
    raw: dict[str, Any]


@dataclass
class MiniProgram:
    """Users, login codes, session keys, access tokens, and the subscribe messages sent."""

    config: WeChatSimConfig
    clock: Clock
    codes: dict[str, JsCode] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)  # openid -> base64 key
    unionids: dict[str, str] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)  # openids WeChat knows for this app
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    current_token: AccessToken | None = None
    tokens_issued: int = 0
    logins: int = 0
    messages: list[SubscribeMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- control API ---------------------------------------------------------------------

    def issue_js_code(self, openid: str | None = None, *, unionid: str | None = None) -> str:
        """What ``wx.login()`` gives the mini-program: a one-time code for `openid`."""
        openid = openid or "o" + random_str(27)
        if unionid:
            self.unionids[openid] = unionid
        self.users.add(openid)
        code = random_str(32)
        with self._lock:
            self.codes[code] = JsCode(openid, self.clock.now())
        return code

    def encrypt_phone_number(
        self, openid: str, phone_number: str, *, country_code: str = "86"
    ) -> dict[str, str]:
        """``encryptedData``/``iv`` of ``getPhoneNumber``, under the user's session key.

        The user must have logged in (jscode2session) so a session key exists.
        """
        key_b64 = self.session_keys.get(openid)
        if key_b64 is None:
            raise LookupError("no session key: the user has not logged in")
        pure = phone_number.removeprefix("+").removeprefix(country_code)
        payload = {
            "phoneNumber": pure if country_code == "86" else f"+{country_code}{pure}",
            "purePhoneNumber": pure,
            "countryCode": country_code,
            "watermark": {"appid": self.config.appid, "timestamp": int(self.clock.now())},
        }
        iv = os.urandom(16)
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return {
            "encryptedData": cbc_encrypt_b64(base64.b64decode(key_b64), iv, data),
            "iv": base64.b64encode(iv).decode("ascii"),
        }

    def expire_tokens(self) -> None:
        """Make every access token expired now (42001 on its next use)."""
        now = self.clock.now()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now)

    # --- helpers ---------------------------------------------------------------------------

    def _check_app(self, appid: str | None, secret: str | None) -> web.Response | None:
        if appid != self.config.appid:
            return wx_error(40013, "invalid appid")
        if secret != self.config.app_secret:
            return wx_error(40125, "invalid appsecret")
        return None

    def _issue_token(self) -> AccessToken:
        now = self.clock.now()
        token = AccessToken(
            random_str(136, alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
            now,
            now + ACCESS_TOKEN_TTL,
        )
        previous = self.current_token
        if previous is not None:
            previous.expires_at = min(previous.expires_at, now + OLD_TOKEN_GRACE)
        self.tokens[token.token] = token
        self.current_token = token
        self.tokens_issued += 1
        return token

    def _token_answer(self, token: AccessToken) -> web.Response:
        remaining = max(0, round(token.expires_at - self.clock.now()))
        return web.json_response({"access_token": token.token, "expires_in": remaining})

    # --- handlers --------------------------------------------------------------------------

    async def jscode2session(self, request: web.Request) -> web.Response:
        q = request.query
        if (failed := self._check_app(q.get("appid"), q.get("secret"))) is not None:
            return failed
        if q.get("grant_type") != "authorization_code":
            return wx_error(40002, "invalid grant_type")
        with self._lock:
            code = self.codes.get(q.get("js_code", ""))
            if code is None or code.used or self.clock.now() - code.issued_at > JS_CODE_TTL:
                return wx_error(40029, "invalid code")
            code.used = True
            self.logins += 1
            session_key = base64.b64encode(os.urandom(16)).decode("ascii")
            self.session_keys[code.openid] = session_key
        body: dict[str, Any] = {"session_key": session_key, "openid": code.openid}
        if code.openid in self.unionids:
            body["unionid"] = self.unionids[code.openid]
        return web.json_response(body)

    async def token(self, request: web.Request) -> web.Response:
        """``GET /cgi-bin/token``: a new token on every call (the old one lives 5 minutes)."""
        q = request.query
        if q.get("grant_type") != "client_credential":
            return wx_error(40002, "invalid grant_type")
        if (failed := self._check_app(q.get("appid"), q.get("secret"))) is not None:
            return failed
        with self._lock:
            token = self._issue_token()
        return self._token_answer(token)

    async def stable_token(self, request: web.Request) -> web.Response:
        """``POST /cgi-bin/stable_token``: the current token unless expired or forced."""
        body = await json_object(request)
        if body is None:
            return wx_error(47001, "data format error")
        if body.get("grant_type") != "client_credential":
            return wx_error(40002, "invalid grant_type")
        if (failed := self._check_app(body.get("appid"), body.get("secret"))) is not None:
            return failed
        force = body.get("force_refresh") in (True, "true", 1)
        with self._lock:
            token = self.current_token
            if force or token is None or token.expires_at <= self.clock.now():
                token = self._issue_token()
        return self._token_answer(token)

    async def subscribe_send(self, request: web.Request) -> web.Response:
        token = self.tokens.get(request.query.get("access_token", ""))
        if token is None:
            return wx_error(40001, "invalid credential, access_token is invalid or not latest")
        if token.expires_at <= self.clock.now():
            return wx_error(42001, "access_token expired")
        body = await json_object(request)
        if body is None:
            return wx_error(47001, "data format error")
        touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
        if not isinstance(touser, str) or touser not in self.users:
            return wx_error(40003, "invalid openid")
        if not isinstance(template_id, str) or not template_id:
            return wx_error(40037, "invalid template_id")
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and "value" in v for v in data.values()
        ):
            return wx_error(47003, "argument invalid! data.value empty")
        page = body.get("page")
        msgid = secrets.randbelow(10**18)
        self.messages.append(
            SubscribeMessage(touser, template_id, page, data, msgid, token.token, body)
        )
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sns/jscode2session", self.jscode2session),
            web.get("/cgi-bin/token", self.token),
            web.post("/cgi-bin/stable_token", self.stable_token),
            web.post("/cgi-bin/message/subscribe/send", self.subscribe_send),
        ]
