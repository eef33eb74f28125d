"""A WeChat simulator speaking the real protocols: mini-program login, access tokens,
subscribe messages, WeChat Pay v3 (public-key mode) and v2, with signed notifications on
WeChat's retry schedule and switchable failures. See README.md in this folder."""

from __future__ import annotations

from sandbox.wechat.config import RETRY_SCHEDULE, WeChatSimConfig
from sandbox.wechat.faults import Faults
from sandbox.wechat.keys import MerchantSetup, generate_merchant_setup, hub_settings
from sandbox.wechat.notify import Attempt, Notification
from sandbox.wechat.server import NoticeOptions, WeChatSimulator

__all__ = [
    "RETRY_SCHEDULE",
    "Attempt",
    "Faults",
    "MerchantSetup",
    "NoticeOptions",
    "Notification",
    "WeChatSimConfig",
    "WeChatSimulator",
    "generate_merchant_setup",
    "hub_settings",
]
