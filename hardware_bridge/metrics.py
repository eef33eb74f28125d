"""The bridge's own Prometheus metrics (``GET /metrics`` on its HTTP server).

A registry per bridge, not the process-wide default the hub uses: tests and benches run
several bridges in one process, and each must show its own devices. The gauges are read
from the running bridge when scraped (nothing to keep in step); only the sync round
durations are observed as they happen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hardware_bridge import health

if TYPE_CHECKING:
    from hardware_bridge.runtime import Bridge

ROUND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def list_number(version: str) -> float | None:
    """The change sequence in a list version (the cursor ``"<seq>.<ticket>"``)."""
    head = version.partition(".")[0]
    return float(head) if head.isdigit() else None


class _BridgeGauges(Collector):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def collect(self) -> Iterator[GaugeMetricFamily]:
        b = self.bridge
        labels = ["device", "vendor", "gate"]
        online = GaugeMetricFamily(
            "tickethub_bridge_device_online",
            "1 online, 0 offline (absent while the bridge cannot tell)",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "tickethub_bridge_device_event_lag_seconds",
            "Bridge time minus device time of the device's latest event",
            labels=labels,
        )
        version = GaugeMetricFamily(
            "tickethub_bridge_device_list_version",
            "Change sequence of the credential list last pushed to the device",
            labels=labels,
        )
        for d in health.devices(b.host):
            key = [d["id"], d["vendor"], d["gate"]]
            if d["online"] is not None:
                online.add_metric(key, 1.0 if d["online"] else 0.0)
            if d["event_lag_s"] is not None:
                lag.add_metric(key, float(d["event_lag_s"]))
            seq = list_number(d["list_version"])
            if seq is not None:
                version.add_metric(key, seq)
        yield online
        yield lag
        yield version
        pending = GaugeMetricFamily(
            "tickethub_bridge_pending_uploads", "Decisions logged, not yet at the hub"
        )
        pending.add_metric([], float(b.store.unsynced_count()))
        yield pending
        link = GaugeMetricFamily(
            "tickethub_bridge_link_active",
            "1 for the hub URL the bridge syncs through (index 0 = preferred)",
            labels=["index", "url"],
        )
        for i, url in enumerate(b.link.links.urls):
            link.add_metric([str(i), url.url], 1.0 if i == b.link.links.active else 0.0)
        yield link
        up = GaugeMetricFamily("tickethub_bridge_online", "1 while the hub answers the sync")
        up.add_metric([], 1.0 if b.link.state.online else 0.0)
        yield up
        if b.link.state.hub_time_skew_s is not None:
            skew = GaugeMetricFamily(
                "tickethub_bridge_hub_clock_skew_seconds", "Hub clock minus bridge clock"
            )
            skew.add_metric([], float(b.link.state.hub_time_skew_s))
            yield skew


class BridgeMetrics:
    """One bridge's registry: the scraped gauges and the sync round histogram."""

    def __init__(self, bridge: Bridge) -> None:
        self.registry = CollectorRegistry()
        self.sync_round = Histogram(
            "tickethub_bridge_sync_round_seconds",
            "Duration of a successful sync round (upload, changes, faces)",
            buckets=ROUND_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_BridgeGauges(bridge))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
