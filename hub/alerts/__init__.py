"""Threshold alerts: staff rules with hysteresis, alerts that open, are acknowledged by a
person and resolve, and messages that leave through the outbox to destinations served by
alert sink plugins (``register_alert_sinks``).

Modules: `measures` (the rule kinds), `rules` (stored rules), `engine` (the moves, each
one conditional statement), `delivery` (destinations as outbox partners), `sink` (the
plugin contract), `service` (the periodic evaluation), `manual` (what people do in the
console: turn a rule off or on, resolve by hand)."""

from __future__ import annotations

from hub.alerts.delivery import ALERT_POLICY, Destination
from hub.alerts.engine import Move
from hub.alerts.service import AlertService
from hub.sdk.alerts import AlertMessage, AlertSink, SinkContext, mask_config, post_json, required
from hub.sdk.registries import AlertSinkRegistry

__all__ = [
    "ALERT_POLICY",
    "AlertMessage",
    "AlertService",
    "AlertSink",
    "AlertSinkRegistry",
    "Destination",
    "Move",
    "SinkContext",
    "mask_config",
    "post_json",
    "required",
]
