"""The simulator's configuration: the merchant's and WeChat's secrets, and time compression.

One dataclass holds what WeChat knows about one mini-program and its merchant account: the
app secret, the merchant's PUBLIC key (WeChat verifies merchant requests with it), the
WeChat Pay platform PRIVATE key and its public key id (WeChat signs answers and
notifications with it), the APIv3 key (AES-256-GCM of notification resources) and the
legacy v2 API key (MD5 / HMAC-SHA256 signatures, AES-256-ECB of refund notices).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

# WeChat Pay's notification retry schedule (seconds between attempts), v2 and v3 alike.
RETRY_SCHEDULE: tuple[float, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)

ACCESS_TOKEN_TTL = 7200.0  # seconds, as WeChat answers in `expires_in`
OLD_TOKEN_GRACE = 300.0  # a replaced access token stays valid five more minutes
JS_CODE_TTL = 300.0  # a wx.login() code is good for five minutes, and once
SIGNATURE_WINDOW = 300.0  # merchant request timestamps more than 5 minutes off are refused


@dataclass
class WeChatSimConfig:
    """Everything WeChat holds for one mini-program and one merchant account.

    `time_scale` multiplies WeChat's notification retry schedule (0.001 in tests turns the
    15 s first retry into 15 ms). `notify_timeout` is how long WeChat waits for the
    merchant's answer to one notification (real seconds, not scaled).
    """

    appid: str
    app_secret: str
    mchid: str
    merchant_public_key_pem: str
    merchant_serial: str
    platform_private_key_pem: str
    platform_public_key_pem: str
    platform_public_key_id: str
    apiv3_key: str
    v2_api_key: str
    time_scale: float = 1.0
    notify_timeout: float = 5.0
    fault_timeout_sleep: float = 10.0

    def __post_init__(self) -> None:
        if len(self.apiv3_key.encode("utf-8")) != 32:
            raise ValueError("the APIv3 key is 32 bytes (AES-256)")
        if len(self.v2_api_key.encode("utf-8")) != 32:
            raise ValueError("the v2 API key is 32 characters")
        if self.time_scale < 0:
            raise ValueError("time_scale cannot be negative")

    def scaled(self, seconds: float) -> float:
        """Real seconds to wait for `seconds` of WeChat's schedule."""
        return seconds * self.time_scale


class Clock:
    """WeChat's notion of now: real time plus an offset tests can push forward.

    Token and js_code lifetimes run on this clock, so a test ages a token by two hours
    with `advance(7200)` instead of waiting. Signature timestamps use real time, because
    the merchant compares them with its own clock.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
