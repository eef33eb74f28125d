"""Sandbox alert receivers: WeCom, DingTalk and Feishu robots and a signed-webhook
receiver, real HTTP servers on loopback that check signatures, timestamp windows and rate
limits the way the vendors do. (Mail is tested against a local aiosmtpd server.)"""

from __future__ import annotations

from sandbox.alerts.base import Receiver
from sandbox.alerts.robots import DingTalkRobot, FeishuBot, WeComRobot
from sandbox.alerts.webhook import WebhookReceiver

__all__ = ["DingTalkRobot", "FeishuBot", "Receiver", "WeComRobot", "WebhookReceiver"]
