"""The alert-sink conformance kit, run against the built-in webhook sink."""

from __future__ import annotations

from hub.testing.conformance.alerts import AlertSinkSuite
from sandbox.alerts.rigs import WebhookRig


class TestWebhookConformance(AlertSinkSuite):
    rig = WebhookRig()
