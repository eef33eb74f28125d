"""HTTP QR / ID-card readers on turnstiles, configured by a per-vendor field mapping.

A reader sends each scan to the bridge and opens its relay on a positive answer; see
`driver`. The dialect (URL, field names, answer layout, time format) is data: shipped
mappings live in ``mappings/*.toml`` and a device picks one with
``options={"mapping": "cardid"}``, overriding any key with the same layout
(e.g. ``{"mapping": "cardid", "fields": {"code": "qr"}, "path": "/qrhttp/east"}``). Every
reader also has a secret ``token`` (required; sent as ``?token=`` in the URL it is
configured with, or ``Authorization: Bearer``) and may be pinned to its ``address``."""

from __future__ import annotations

from hub.sdk import DeviceDriverRegistry, hookimpl
from plugins.device_qrhttp.driver import QRHttpDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(QRHttpDriver.vendor, QRHttpDriver)
