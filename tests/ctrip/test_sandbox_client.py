"""The sandbox Ctrip client retries like Ctrip: the identical request, only while an
attempt fails, at most three more times."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.ota.ctrip import CtripClient
from tests.ctrip.kit import SECRETS


async def test_call_retrying_resends_identical_bytes_until_an_answer() -> None:
    seen: list[bytes] = []
    answers = [500, 1100, 0]

    async def supplier(request: web.Request) -> web.Response:
        seen.append(await request.read())
        status = answers.pop(0)
        if status == 500:
            return web.Response(status=500)
        code = "1100" if status == 1100 else "0000"
        return web.json_response({"header": {"resultCode": code, "resultMessage": "x"}})

    app = web.Application()
    app.router.add_post("/api/channels/ctrip", supplier)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        keys: dict[str, Any] = {
            "account_id": SECRETS["CTRIP_ACCOUNT_ID"],
            "sign_key": SECRETS["CTRIP_SIGN_KEY"],
            "aes_key": SECRETS["CTRIP_AES_KEY"],
            "aes_iv": SECRETS["CTRIP_AES_IV"],
        }
        client = CtripClient(base_url=str(server.make_url("")).rstrip("/"), http=http, **keys)
        reply = await client.call_retrying("QueryOrder", {"otaOrderId": "x"})
    assert reply.ok
    assert len(seen) == 3 and len(set(seen)) == 1
    assert json.loads(seen[0])["header"]["serviceName"] == "QueryOrder"
