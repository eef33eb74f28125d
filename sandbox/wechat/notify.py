"""WeChat's notification sender: signed, retried on WeChat's schedule, every attempt kept.

WeChat treats a v3 notification as delivered when the merchant answers 200 or 204, a v2
one when the answer is an XML ``return_code`` of ``SUCCESS``; anything else (another
status, a timeout, a refused connection) is retried after 15s/15s/30s/3m/10m/20m/30m/30m/
30m/60m/3h/3h/3h/6h/6h, each multiplied by `WeChatSimConfig.time_scale`. Options model
what WeChat really does to merchants: several copies (as from several WeChat servers,
one after another or at the same moment), a late first delivery, and a probe with a
deliberately wrong signature sent first to see whether the merchant checks.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sandbox.wechat.config import RETRY_SCHEDULE, WeChatSimConfig
from sandbox.wechat.keys import gcm_encrypt, load_private, random_str, sign_lines
from sandbox.wechat.ledger import rfc3339

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass
class Attempt:
    """One POST to the merchant and what it answered."""

    number: int  # 0 = first delivery, n = n-th retry
    copy: int  # which simulated WeChat server sent it
    sent_at: float
    status: int | None
    answer: str
    error: str | None
    acknowledged: bool
    probe: bool = False
    after: float = 0.0  # WeChat-schedule seconds waited before this attempt (unscaled)


@dataclass
class Notification:
    """One logical notice (one ``id``) and all its delivery attempts."""

    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL …
    api: str  # "v3" (JSON, signed headers) or "v2" (XML, signed body)
    url: str
    body: str
    probe_body: str = ""  # v2: the same notice with a wrong sign
    out_trade_no: str = ""
    out_refund_no: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    copies: int = 1
    acknowledged_copies: int = 0
    gave_up_copies: int = 0
    probe_refused: bool | None = None  # None: no probe sent
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def acknowledged(self) -> bool:
        """Every copy of the notice was acknowledged by the merchant."""
        return self.acknowledged_copies == self.copies

    @property
    def deliveries(self) -> list[Attempt]:
        """Attempts with the genuine signature (the probe left out)."""
        return [a for a in self.attempts if not a.probe]

    async def wait(self, timeout: float = 10.0) -> Notification:
        """Until every copy is acknowledged or given up (bounded by `timeout`)."""
        await asyncio.wait_for(self.done.wait(), timeout)
        return self


def v2_acknowledged(answer: str) -> bool:
    try:
        root = ET.fromstring(answer)
    except ET.ParseError:
        return False
    return (root.findtext("return_code") or "").strip() == "SUCCESS"


class Notifier:
    """Sends notifications with its own aiohttp session, in background tasks."""

    def __init__(self, config: WeChatSimConfig) -> None:
        self.config = config
        self._key = load_private(config.platform_private_key_pem)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: list[Notification] = []
        # HTTP/2 carries header names in lower case, and proxies in front of merchants
        # often rewrite them so: True sends the signature headers that way (answers and
        # notices), which a merchant reading them case-sensitively fails to verify.
        self.lower_case_headers = False

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def v3_body(
        self, event_type: str, summary: str, original_type: str, resource: dict[str, Any]
    ) -> tuple[str, str]:
        """(notification id, JSON body) with the resource sealed by the APIv3 key."""
        notice_id = str(uuid.uuid4())
        sealed = gcm_encrypt(
            self.config.apiv3_key,
            json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
            original_type,
        )
        body = {
            "id": notice_id,
            "create_time": rfc3339(time.time()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                **sealed,
            },
        }
        return notice_id, json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def signed_headers(self, body: str, *, forged: bool = False) -> dict[str, str]:
        """WeChat's v3 signature headers; `forged` signs something else (the probe)."""
        timestamp, nonce = str(int(time.time())), random_str(32)
        signature = sign_lines(self._key, timestamp, nonce, body + ("x" if forged else ""))
        headers = {
            "Wechatpay-Serial": self.config.platform_public_key_id,
            "Wechatpay-Signature": signature,
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            "Request-ID": str(uuid.uuid4()),
        }
        if self.lower_case_headers:
            return {name.lower(): value for name, value in headers.items()}
        return headers

    def send(
        self,
        notification: Notification,
        *,
        copies: int = 1,
        concurrent: bool = False,
        delay: float = 0.0,
        probe: bool = False,
    ) -> Notification:
        """Start delivering in the background; the notification records what happens."""
        if copies < 1:
            raise ValueError("copies must be at least 1")
        notification.copies = copies
        self.sent.append(notification)
        task = asyncio.get_running_loop().create_task(
            self._run(notification, copies, concurrent, delay, probe)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return notification

    async def _run(
        self, n: Notification, copies: int, concurrent: bool, delay: float, probe: bool
    ) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            if probe:
                attempt = await self._post(n, number=0, copy=0, probe=True)
                n.probe_refused = not attempt.acknowledged
            if concurrent:
                await asyncio.gather(*(self._deliver(n, c) for c in range(copies)))
            else:
                for c in range(copies):
                    await self._deliver(n, c)
        finally:
            n.done.set()

    async def _deliver(self, n: Notification, copy: int) -> None:
        for number in range(len(RETRY_SCHEDULE) + 1):
            after = RETRY_SCHEDULE[number - 1] if number else 0.0
            attempt = await self._post(n, number=number, copy=copy, probe=False, after=after)
            if attempt.acknowledged:
                n.acknowledged_copies += 1
                return
            if number < len(RETRY_SCHEDULE):
                await asyncio.sleep(self.config.scaled(RETRY_SCHEDULE[number]))
        n.gave_up_copies += 1

    async def _post(
        self, n: Notification, *, number: int, copy: int, probe: bool, after: float = 0.0
    ) -> Attempt:
        assert self._session is not None, "the simulator is not running"
        if n.api == "v3":
            body = n.body
            headers = {
                "Content-Type": "application/json",
                **self.signed_headers(body, forged=probe),
            }
        else:
            body = n.probe_body if probe else n.body
            headers = {"Content-Type": "text/xml"}
        headers["User-Agent"] = "Mozilla/4.0"
        sent_at = time.time()
        status: int | None = None
        answer, error = "", None
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.notify_timeout)
            async with self._session.post(
                n.url, data=body.encode("utf-8"), headers=headers, timeout=timeout
            ) as r:
                status = r.status
                answer = (await r.read())[:4096].decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status is None:
            acknowledged = False
        elif n.api == "v3":
            acknowledged = status in (200, 204)
        else:
            acknowledged = status == 200 and v2_acknowledged(answer)
        attempt = Attempt(number, copy, sent_at, status, answer, error, acknowledged, probe, after)
        n.attempts.append(attempt)
        return attempt
