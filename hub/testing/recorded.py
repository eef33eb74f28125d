"""Recorded partner messages: one real-shaped request and the hub's answer per operation,
kept as JSON files beside the partner's plugin and replayed by its tests.

A recording is made by a sandbox partner (the real wire protocol: signed, encrypted,
enveloped) talking to a test hub through `RecordingHttp`, which passes every call on and
keeps the exact bytes both ways. `save` writes one file per message,
``<plugin>/fixtures/NN_<operation>.json``, numbered in the order they were sent (a pay
follows its create); `load` reads them back, and `replay` sends a recorded request's
exact bytes, headers and target to a fresh hub. The answer is compared by `shape` — the
keys and the JSON types, not values that differ per run such as order ids — plus
whatever the test pins exactly (the partner's result code).

A file holds::

    {"channel": "ctrip", "operation": "VerifyOrder",
     "request": {"method": "POST", "target": "/api/channels/ctrip", "headers": {...},
                 "body": "<the bytes as text>"},
     "answer":  {"status": 200, "headers": {"Content-Type": "..."}, "body": "..."},
     "decoded": {"request": <business body>, "answer": <business answer>}}

``decoded`` is for people (a plugin author reading what Ctrip really sends, its body
deciphered); replays use the raw bytes. Third-party plugins can record and replay theirs
with the same functions.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from multidict import CIMultiDict, CIMultiDictProxy

KEPT_HEADERS = frozenset(
    {"content-type", "authorization", "date", "partnerid", "x-encryption-status"}
)
"""Request and answer headers a recording keeps (besides every header of `KEPT_PREFIXES`):
what a partner signs or the hub reads. Host, length, user agent and the like are left
out."""
KEPT_PREFIXES = ("x-", "wechatpay-")
"""``x-*``, and WeChat Pay's signature headers (``Wechatpay-Signature``, ``-Timestamp``,
``-Nonce``, ``-Serial``, ``-Signature-Type``)."""

Decoder = Callable[[bytes, Mapping[str, str]], Any]
"""Bytes and headers of a request or an answer → its business content (for ``decoded``
and for comparing answers): e.g. a Ctrip envelope with its body deciphered."""


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded exchange."""

    channel: str
    operation: str
    method: str
    target: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    answer_headers: dict[str, str]
    answer_body: bytes

    def to_json(self, decode: Decoder | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "channel": self.channel,
            "operation": self.operation,
            "request": {
                "method": self.method,
                "target": self.target,
                "headers": self.request_headers,
                "body": self.request_body.decode("utf-8"),
            },
            "answer": {
                "status": self.status,
                "headers": self.answer_headers,
                "body": self.answer_body.decode("utf-8"),
            },
        }
        if decode is not None:
            doc["decoded"] = {
                "request": decode(self.request_body, self.request_headers),
                "answer": decode(self.answer_body, self.answer_headers),
            }
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Message:
        req, ans = doc["request"], doc["answer"]
        return cls(
            channel=doc["channel"],
            operation=doc["operation"],
            method=req["method"],
            target=req["target"],
            request_headers=dict(req["headers"]),
            request_body=req["body"].encode("utf-8"),
            status=int(ans["status"]),
            answer_headers=dict(ans["headers"]),
            answer_body=ans["body"].encode("utf-8"),
        )


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in headers.items()
        if k.lower() in KEPT_HEADERS or k.lower().startswith(KEPT_PREFIXES)
    }


def _bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, io.BytesIO):
        return data.getvalue()
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    raise TypeError(f"cannot record a body of type {type(data).__name__}")


@dataclass
class RecordedAnswer:
    """What a sandbox client reads back: the answer, already read in full."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    async def read(self) -> bytes:
        return self.body

    async def text(self) -> str:
        return self.body.decode("utf-8")

    async def json(self, content_type: str | None = None) -> Any:
        return json.loads(self.body)

    def release(self) -> None:
        """Nothing to release: the body was read when it was recorded."""


@dataclass
class RecordingHttp:
    """Stands in for the HTTP session a sandbox client is given: passes each call on to
    the hub's test client and keeps the exchange. Set `operation` before each call (the
    name the message file gets)."""

    http: TestClient
    channel: str
    operation: str = ""
    messages: list[Message] = field(default_factory=list)

    async def post(self, url: str, **kw: Any) -> RecordedAnswer:
        return await self._send("POST", url, **kw)

    @asynccontextmanager
    async def request(self, method: str, url: str, **kw: Any) -> AsyncIterator[RecordedAnswer]:
        yield await self._send(method, url, **kw)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
        json: Any = None,
    ) -> RecordedAnswer:
        raw = _bytes(data) if json is None else _dumps(json)
        sent = CIMultiDict(headers or {})
        if json is not None:
            sent.setdefault("Content-Type", "application/json")
        resp = await self.http.request(method, url, data=raw, headers=sent, params=params)
        body = await resp.read()
        self.messages.append(
            Message(
                channel=self.channel,
                operation=self.operation or f"call{len(self.messages) + 1}",
                method=method.upper(),
                target=resp.url.raw_path_qs,
                request_headers=_kept(sent),
                request_body=raw,
                status=resp.status,
                answer_headers=_kept(resp.headers),
                answer_body=body,
            )
        )
        return RecordedAnswer(resp.status, resp.headers, body)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def file_name(index: int, operation: str) -> str:
    """``03_PayPreOrder.json``: the order of sending, then the operation (path-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in operation)
    return f"{index:02d}_{safe}.json"


def save(messages: Iterable[Message], folder: Path, decode: Decoder | None = None) -> list[Path]:
    """Write the messages as ``folder/NN_<operation>.json`` (replacing older recordings of
    the folder, so a removed operation does not linger)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]_*.json"):
        old.unlink()
    written: list[Path] = []
    for i, message in enumerate(messages, start=1):
        path = folder / file_name(i, message.operation)
        text = json.dumps(message.to_json(decode), indent=2, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    return written


def load(folder: Path | Any) -> list[Message]:
    """The recorded messages of a folder (a path or an ``importlib.resources`` folder),
    in the order they were sent."""
    files = sorted(
        (f for f in folder.iterdir() if f.name[:2].isdigit() and f.name.endswith(".json")),
        key=lambda f: f.name,
    )
    return [Message.from_json(json.loads(f.read_text(encoding="utf-8"))) for f in files]


async def replay(http: TestClient, message: Message) -> tuple[int, dict[str, str], bytes]:
    """Send a recorded request's exact bytes and headers to its target on ``http``."""
    resp = await http.request(
        message.method,
        message.target,
        data=message.request_body,
        headers=message.request_headers,
    )
    return resp.status, dict(resp.headers), await resp.read()


def shape(value: Any) -> Any:
    """The structure of a JSON value: objects keep their keys, lists the set of their
    items' shapes, scalars become their type's name (``"str"``, ``"int"``, ...)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            s = shape(item)
            if s not in shapes:
                shapes.append(s)
        return shapes
    if value is None:
        return "null"
    return type(value).__name__
