"""MQTT gates and terminals through `aiomqtt`, topics and payloads configured per vendor.

See `driver` for the message flow and `profile` for the options a device takes (topic
templates such as ``gates/{serial}/event``, JSON field names, ``holds_list``). The broker
is ``TICKETHUB_MQTT_HOST`` / ``TICKETHUB_MQTT_PORT`` (default 127.0.0.1:1883)."""

from __future__ import annotations

from hub import hookimpl
from hub.registries import DeviceDriverRegistry
from plugins.device_mqtt.driver import MqttDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(MqttDriver.vendor, MqttDriver)
