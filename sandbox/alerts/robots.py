"""Sandbox WeCom, DingTalk and Feishu robots: each checks what the real one checks (key
or token, signature and timestamp window, message shape, rate limit) and answers in its
own JSON error vocabulary (errcode/errmsg; Feishu code/msg)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from aiohttp import web

from hub.clock import Clock
from sandbox.alerts.base import Receiver

WINDOW_SECONDS = 3600  # DingTalk and Feishu: timestamps within one hour


class WeComRobot(Receiver):
    """``POST /cgi-bin/webhook/send?key=<key>``; 20 messages a minute."""

    def __init__(self, clock: Clock, *, key: str = "sandbox-key", per_minute: int = 20) -> None:
        super().__init__(clock, per_minute=per_minute)
        self.key = key

    @property
    def url(self) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={self.key}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/cgi-bin/webhook/send", self.send)

    async def send(self, request: web.Request) -> web.Response:
        if (failed := self.injected_failure()) is not None:
            return failed
        if request.query.get("key") != self.key:
            return self.refuse({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = self.parse(await request.read())
        kind = body.get("msgtype") if body else None
        limits = {"text": 2048, "markdown": 4096}
        if body is None or kind not in limits:
            return self.refuse({"errcode": 40008, "errmsg": "invalid message type"})
        content = str(body.get(kind, {}).get("content", ""))
        if not content or len(content.encode()) > limits[kind]:
            return self.refuse({"errcode": 40058, "errmsg": "content exceed max length"})
        if self.over_limit():
            return self.refuse({"errcode": 45009, "errmsg": "api freq out of limit"})
        self.accept(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})


class DingTalkRobot(Receiver):
    """``POST /robot/send?access_token=…&timestamp=<ms>&sign=…`` with 加签 on."""

    def __init__(
        self,
        clock: Clock,
        *,
        token: str = "sandbox-token",
        secret: str = "SECsandbox",
        per_minute: int = 20,
    ) -> None:
        super().__init__(clock, per_minute=per_minute)
        self.token, self.secret = token, secret

    @property
    def url(self) -> str:
        return f"{self.base_url}/robot/send?access_token={self.token}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/robot/send", self.send)

    def _signed(self, timestamp: str, sign: str) -> bool:
        if not timestamp.isdigit():
            return False
        sent = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
        if abs((self.clock.now() - sent).total_seconds()) > WINDOW_SECONDS:
            return False
        mac = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), "sha256")
        return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign)

    async def send(self, request: web.Request) -> web.Response:
        if (failed := self.injected_failure()) is not None:
            return failed
        q = request.query  # aiohttp has URL-decoded ``sign`` already
        if q.get("access_token") != self.token:
            return self.refuse({"errcode": 300001, "errmsg": "token is not exist"})
        if not self._signed(q.get("timestamp", ""), q.get("sign", "")):
            return self.refuse({"errcode": 310000, "errmsg": "sign not match"})
        body = self.parse(await request.read())
        if body is None or body.get("msgtype") not in ("text", "markdown"):
            return self.refuse({"errcode": 40035, "errmsg": "缺少参数 json"})
        if self.over_limit():
            return self.refuse(
                {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            )
        self.accept(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})


class FeishuBot(Receiver):
    """``POST /open-apis/bot/v2/hook/<token>`` with signature check on. Its rate limit
    (100 a minute) is *unconfirmed*, hence a parameter."""

    def __init__(
        self,
        clock: Clock,
        *,
        token: str = "sandbox-hook",
        secret: str = "sandbox-secret",
        per_minute: int = 100,
    ) -> None:
        super().__init__(clock, per_minute=per_minute)
        self.token, self.secret = token, secret

    @property
    def url(self) -> str:
        return f"{self.base_url}/open-apis/bot/v2/hook/{self.token}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/open-apis/bot/v2/hook/{token}", self.send)

    def _signed(self, timestamp: str, sign: str) -> bool:
        if not timestamp.isdigit():
            return False
        if abs(self.clock.now().timestamp() - int(timestamp)) > WINDOW_SECONDS:
            return False
        key = f"{timestamp}\n{self.secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, sign)

    async def send(self, request: web.Request) -> web.Response:
        if (failed := self.injected_failure()) is not None:
            return failed
        if request.match_info["token"] != self.token:
            return self.refuse(
                {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            )
        body = self.parse(await request.read())
        if body is None:
            return self.refuse({"code": 9499, "msg": "Bad Request"}, status=400)
        if not self._signed(str(body.get("timestamp", "")), str(body.get("sign", ""))):
            return self.refuse(
                {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }
            )
        if body.get("msg_type") not in ("text", "interactive", "post"):
            return self.refuse({"code": 19002, "msg": "params error, msg_type need"})
        if self.over_limit():
            return self.refuse({"code": 11232, "msg": "frequency limited"})
        self.accept(body)
        return web.json_response({"code": 0, "msg": "success", "data": {}})
