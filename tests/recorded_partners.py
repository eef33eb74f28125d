"""Recorded partner messages: the scenario per channel, and the recorder.

Each partner's sandbox client (``sandbox/ota``: the real wire protocol, signed and
encrypted as the partner does) plays one call per operation against a test hub on the
fixed clock ``T0``; `hub.testing.recorded.RecordingHttp` keeps the exact bytes both ways
and the files land in the partner's plugin folder (``plugins/channel_<x>/fixtures``),
beside its spec and protocol code, so a plugin author reads what the partner really sends
next to the code that reads it, and deleting the plugin deletes its messages.
`tests/channels/test_recorded_messages.py` replays them against a fresh hub.

Re-record (after a deliberate protocol change; review the diff)::

    .venv/bin/python -m tests.recorded_partners            # every channel
    .venv/bin/python -m tests.recorded_partners ctrip      # one

Order and ticket ids come from a counter while recording and replaying
(`deterministic_ids`), so a later call can name an id an earlier answer gave (Douyin's
``out_order_id``) and the replay finds the same order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from hub.channels import ChannelSpec, get_path
from hub.channels.loader import PathError, parse_path
from hub.channels.schemes import installed
from hub.orders import intake, tickets
from hub.testing.databases import SchemaTemplates
from hub.testing.recorded import Decoder, Message, RecordingHttp, save
from plugins.channel_agency import signing as agency_signing
from plugins.channel_ctrip import protocol as ctrip_protocol
from plugins.channel_douyin import protocol as douyin_protocol
from plugins.channel_fliggy import protocol as fliggy_protocol
from plugins.channel_meituan import protocol as meituan_protocol
from sandbox.agency.client import AgencyClient
from sandbox.ota.ctrip import CtripClient
from sandbox.ota.douyin import DouyinClient
from sandbox.ota.fliggy import FliggyClient, booking, travellers
from sandbox.ota.meituan import CLOSE, CREATE, PAY, QUERY, REFUND, MeituanClient
from sandbox.ota.meituan_receiver import CALENDAR
from tests import recorded_wechat
from tests.agency import kit as agency_kit
from tests.ctrip import kit as ctrip_kit
from tests.douyin import kit as douyin_kit
from tests.fliggy import kit as fliggy_kit
from tests.meituan import kit as meituan_kit
from tests.support import T0, TOMORROW, hub_client, id_number, seed

ROOT = Path(__file__).resolve().parents[1]
AiohttpClient = Callable[[web.Application], Awaitable[TestClient]]
Hub = Callable[[AiohttpClient, str], AbstractAsyncContextManager[TestClient]]
Play = Callable[[RecordingHttp], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    """One channel: how its test hub is built, what its sandbox partner sends, how its
    messages are read (``decode``) and where its partner's result code is."""

    channel: str
    hub: Hub
    play: Play
    decode: Decoder
    code: Callable[[Any], Any]
    spec: ChannelSpec | None = None
    name: str = ""  # the scenario's name when a channel has several (default: channel)
    fixtures: str = "fixtures"  # the folder in the plugin's, e.g. "fixtures/v2"

    def spec_operation(self, message: Message) -> str | None:
        """The spec operation a recorded request calls (None without a spec)."""
        spec = self.spec
        if spec is None:
            return None
        if spec.envelope.operation_from == "field":
            doc = self.decode(message.request_body, message.request_headers)
            return str(get_path(doc, spec.envelope.operation_path or ""))
        tail = message.target.split("?")[0].removeprefix(f"/api/channels/{self.channel}/")
        return spec.operation_for_path(tail)

    @property
    def key(self) -> str:
        return self.name or self.channel

    @property
    def folder(self) -> Path:
        return ROOT / "plugins" / f"channel_{self.channel}" / self.fixtures


@contextmanager
def deterministic_ids() -> Iterator[None]:
    """Order and ticket ids from a counter instead of `secrets` (same run, same ids)."""
    counter = itertools.count(1)

    class Counting:
        @staticmethod
        def token_hex(nbytes: int) -> str:
            return f"{next(counter):0{nbytes * 2}X}"

    with (
        mock.patch.object(intake, "secrets", Counting),
        mock.patch.object(tickets, "secrets", Counting),
    ):
        yield


# ------------------------------------------------------------------ decoding


def spec_decoder(spec: ChannelSpec, settings: Mapping[str, str]) -> Decoder:
    """A spec channel's message → its document with the business body deciphered (both
    the request's and the answer's body paths), whole-document encryption undone."""
    protocols = installed()
    enc, env = spec.encryption, spec.envelope
    codec, whole = protocols.codec(env.body_encoding), protocols.codec(enc.scheme)
    key = settings.get(enc.key_setting or "", "")
    iv = settings.get(enc.iv_setting or "", "")

    def decode(raw: bytes, headers: Mapping[str, str]) -> Any:
        if not raw.strip():
            return None
        trigger = enc.trigger_header
        if trigger and whole and CIMultiDict(headers).get(trigger, "").lower() == "encrypted":
            raw = whole.decode(raw.decode("ascii").strip(), key, iv)
        doc = json.loads(raw)
        for path in {env.body_path, env.response.body_path} - {None}:
            assert path is not None
            try:
                cipher = get_path(doc, path)
            except PathError:
                continue
            if codec is not None and isinstance(cipher, str):
                _set(doc, path, json.loads(codec.decode(cipher, key, iv)))
        return doc

    return decode


def _set(doc: Any, path: str, value: Any) -> None:
    parts = parse_path(path)
    for part in parts[:-1]:
        doc = doc[part]
    doc[parts[-1]] = value


def spec_code(spec: ChannelSpec) -> Callable[[Any], Any]:
    def code(doc: Any) -> Any:
        return get_path(doc, spec.envelope.response.code_path)

    return code


# ------------------------------------------------------------------ Ctrip


@asynccontextmanager
async def ctrip_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
    yield await ctrip_kit.ctrip_hub(aiohttp_client, db_url)


async def ctrip_play(http: RecordingHttp) -> None:
    keys = ctrip_kit.SECRETS
    c = CtripClient(
        base_url="",
        http=http,
        account_id=keys["CTRIP_ACCOUNT_ID"],
        sign_key=keys["CTRIP_SIGN_KEY"],
        aes_key=keys["CTRIP_AES_KEY"],
        aes_iv=keys["CTRIP_AES_IV"],
        now=lambda: T0,
    )
    order = ctrip_kit.order
    people = ctrip_kit.id_passengers(2)
    for operation, body in (
        ("VerifyOrder", order("R1", quantity=2)),
        ("CreatePreOrder", order("R1", quantity=2)),
        ("PayPreOrder", {"otaOrderId": "R1"}),
        ("QueryOrder", {"otaOrderId": "R1"}),
        ("CancelOrder", {"otaOrderId": "R1", "cancelType": 0}),
        ("CreatePreOrder", order("R2")),
        ("CancelPreOrder", {"otaOrderId": "R2"}),
        ("CreateOrder", order("R3", "realname", 2, passengers=people)),
        ("RefundOrder", {"otaOrderId": "R3", "sequenceId": "20261122" + "r" * 32, "quantity": 1}),
        ("QueryOrder", {"otaOrderId": "NO-SUCH-ORDER"}),
    ):
        http.operation = operation
        await c.call(operation, body)
    http.operation = "VerifyOrder_bad_sign"
    forged = CtripClient(**{**vars(c), "sign_key": "not-the-key"})
    await forged.call("VerifyOrder", order("R4"))


# ------------------------------------------------------------------ Meituan


@asynccontextmanager
async def meituan_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
    async with meituan_kit.rig(aiohttp_client, db_url, callbacks=False) as r:
        yield r.client


async def meituan_play(http: RecordingHttp) -> None:
    keys = meituan_kit.SECRETS
    mt = MeituanClient(
        http=http,
        now=lambda: T0,
        partner_id=keys["MEITUAN_PARTNER_ID"],
        client_id=keys["MEITUAN_CLIENT_ID"],
        client_secret=keys["MEITUAN_CLIENT_SECRET"],
        aes_key=keys["MEITUAN_AES_KEY"],
    )
    order = meituan_kit.order
    for operation, body in (
        (CREATE, order("M1", quantity=2)),
        (PAY, {"orderId": "M1"}),
        (QUERY, {"orderId": "M1"}),
        (REFUND, {"orderId": "M1", "refundId": "r-1", "refundQuantity": 1}),
        (CREATE, order("M2")),
        (CLOSE, {"orderId": "M2"}),
        # Meituan's pull of the price calendar after our stock notice, from live stock
        (
            CALENDAR,
            {
                "partnerDealId": "adult",
                "startTime": TOMORROW.isoformat(),
                "endTime": TOMORROW.isoformat(),
            },
        ),
    ):
        http.operation = operation.replace("/", "_")
        await mt.call(operation, body)


# ------------------------------------------------------------------ Douyin


@asynccontextmanager
async def douyin_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
    async with douyin_kit.rig(aiohttp_client, db_url) as r:
        yield r.client


async def douyin_play(http: RecordingHttp) -> None:
    keys = douyin_kit.SECRETS
    d = DouyinClient(
        http=http,
        client_key=keys["DOUYIN_CLIENT_KEY"],
        client_secret=keys["DOUYIN_CLIENT_SECRET"],
        now_ms=lambda: int(T0.timestamp() * 1000),
    )
    order = douyin_kit.order
    http.operation = "can_buy"
    await d.call("can_buy", order("D1", count=2))
    http.operation = "create_order"
    created = await d.call("create_order", order("D1", count=2))
    ours = created.data["out_order_id"]
    for operation, body in (
        ("pay_notify", {"order_id": "D1", "out_order_id": ours}),
        ("query", {"order_ids": ["D1", "NO-SUCH-ORDER"]}),
        ("refund_audit", {"order_id": "D1", "after_sale_id": "as-1", "count": 1}),
        ("refund_notify", {"order_id": "D1", "after_sale_id": "as-1", "status": 1}),
    ):
        http.operation = operation
        await d.call(operation, body)
    http.operation = "create_order"
    await d.call("create_order", order("D2"))
    http.operation = "cancel_notify"
    await d.call("cancel_notify", {"order_id": "D2", "cancel_type": 1})
    # Douyin's pull of prices and stock (the stock SPI), answered from live stock
    http.operation = "stock_calendar"
    await d.call(
        "stock_calendar",
        {
            "account_id": "sandbox",
            "product_id": "dy-adult",
            "product_out_id": "adult",
            "start_date": TOMORROW.isoformat(),
            "end_date": TOMORROW.isoformat(),
            "ticket_specifications": [{"sku_id": "dy-adult", "sku_out_id": ""}],
        },
    )


# ------------------------------------------------------------------ Fliggy


@asynccontextmanager
async def fliggy_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
    async with fliggy_kit.rig(aiohttp_client, db_url, callbacks=False) as r:
        yield r.client


async def fliggy_play(http: RecordingHttp) -> None:
    f = FliggyClient(http, now=lambda: T0)
    tomorrow = TOMORROW
    for operation, body in (
        ("create", booking("F1", day=tomorrow, quantity=2)),
        ("query", {"order_id": "F1"}),
        ("refund", {"order_id": "F1"}),
        (
            "create",
            booking(
                "F2",
                product="realname",
                day=tomorrow,
                quantity=1,
                travellers=travellers([id_number(seq=7)]),
            ),
        ),
        ("cancel", {"order_id": "F2"}),
    ):
        http.operation = operation
        await f.call(operation, body)


# ------------------------------------------------------------------ agency

AGENCY_KEY = ("AKRECORDEDFIXTURES0001", "recorded-fixture-secret-not-a-real-one-0001")
"""The credentials the recorded agency signs with: staff issue random ones, so while a
recording is made or replayed the hub issues these (`agency_hub`)."""


@asynccontextmanager
async def agency_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
    with mock.patch.object(agency_signing, "new_credentials", lambda: AGENCY_KEY):
        client = await hub_client(aiohttp_client, db_url)
        await seed(client)
        await agency_kit.make_agency(client, "ag-rec", top_up=1_000_000)
        yield client


async def agency_play(http: RecordingHttp) -> None:
    a = AgencyClient(http, "", *AGENCY_KEY, clock=lambda: T0.timestamp())  # type: ignore[arg-type]
    http.operation = "account"
    await a.account()
    http.operation = "book_group"
    await a.book(agency_kit.group("G-REC-1", 2))
    http.operation = "group"
    await a.group("G-REC-1")
    http.operation = "refund"
    await a.refund("G-REC-1", "RF-REC-1")
    http.operation = "group_unknown"
    await a.group("G-NO-SUCH")
    http.operation = "account_bad_signature"
    await AgencyClient(http, "", AGENCY_KEY[0], "wrong", clock=a.clock).account()  # type: ignore[arg-type]


def json_decoder(raw: bytes, headers: Mapping[str, str]) -> Any:
    return json.loads(raw) if raw.strip() else None


def agency_code(doc: Any) -> Any:
    """The agency API's error code (``{"code": "BAD_SIGNATURE", ...}``); None on success."""
    return doc.get("code") if isinstance(doc, dict) else None


# ------------------------------------------------------------------ the table


def _spec_scenario(
    channel: str, spec: ChannelSpec, settings: Mapping[str, str], hub: Hub, play: Play
) -> Scenario:
    return Scenario(channel, hub, play, spec_decoder(spec, settings), spec_code(spec), spec)


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        _spec_scenario("ctrip", ctrip_protocol.spec(), ctrip_kit.SECRETS, ctrip_hub, ctrip_play),
        _spec_scenario(
            "meituan", meituan_protocol.spec(), meituan_kit.SECRETS, meituan_hub, meituan_play
        ),
        _spec_scenario(
            "douyin", douyin_protocol.spec(), douyin_kit.SECRETS, douyin_hub, douyin_play
        ),
        _spec_scenario(
            "fliggy", fliggy_protocol.spec(), fliggy_kit.SECRETS, fliggy_hub, fliggy_play
        ),
        Scenario("agency", agency_hub, agency_play, json_decoder, agency_code),
        # WeChat Pay's payment notifications, v3 and v2 (tests/recorded_wechat.py)
        Scenario(
            "wechat",
            recorded_wechat.hub_of_version("v3"),
            recorded_wechat.v3_play,
            recorded_wechat.v3_decode,
            recorded_wechat.v3_code,
        ),
        Scenario(
            "wechat",
            recorded_wechat.hub_of_version("v2"),
            recorded_wechat.v2_play,
            recorded_wechat.v2_decode,
            recorded_wechat.v2_code,
            name="wechat_v2",
            fixtures="fixtures/v2",
        ),
    )
}


# ------------------------------------------------------------------ the recorder


async def record(scenario: Scenario, aiohttp_client: AiohttpClient, db_url: str) -> list[Message]:
    """Play the scenario against a fresh hub and keep every exchange."""
    with deterministic_ids():
        async with scenario.hub(aiohttp_client, db_url) as client:
            http = RecordingHttp(client, scenario.channel)
            await scenario.play(http)
            return http.messages


async def _record_all(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        templates = SchemaTemplates(Path(tmp) / "templates")
        clients: list[TestClient] = []

        async def aiohttp_client(app: web.Application) -> TestClient:
            client = TestClient(TestServer(app))
            await client.start_server()
            clients.append(client)
            return client

        try:
            for name in names:
                scenario = SCENARIOS[name]
                db_url = await templates.sqlite_url(Path(tmp) / f"{name}.db")
                try:
                    messages = await record(scenario, aiohttp_client, db_url)
                finally:
                    while clients:
                        await clients.pop().close()
                for path in save(messages, scenario.folder, scenario.decode):
                    print(path.relative_to(ROOT))
        finally:
            await templates.close()


def main(argv: list[str]) -> int:
    names = argv or sorted(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown channel(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
        return 2
    os.environ.setdefault("TICKETHUB_DEV", "1")  # test secrets, as under pytest
    asyncio.run(_record_all(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
