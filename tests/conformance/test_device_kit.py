"""The device conformance kit, run against every built-in device driver (each with its
sandbox simulator: `sandbox.devices.rigs`)."""

from __future__ import annotations

from hub.testing.conformance.devices import DeviceConformanceSuite
from sandbox.devices.rigs import HikvisionRig, MqttRig, QRHttpRig, UhppoteRig, ZKTecoRig


class TestQRHttpConformance(DeviceConformanceSuite):
    rig = QRHttpRig()


class TestHikvisionConformance(DeviceConformanceSuite):
    rig = HikvisionRig()


class TestZKTecoConformance(DeviceConformanceSuite):
    rig = ZKTecoRig()


class TestUhppoteConformance(DeviceConformanceSuite):
    rig = UhppoteRig()


class TestMqttConformance(DeviceConformanceSuite):
    rig = MqttRig()
