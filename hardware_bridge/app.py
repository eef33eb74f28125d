"""The bridge's HTTP app: drivers' device-facing routes, ``/status``, the staff admin
API (devices, manual admissions) that ``tickethub device …`` talks to, and the handheld
checking page (`hardware_bridge.handheld`).

Drivers mount their routes while the app is built (routes are fixed once an aiohttp app
starts), so `create_app` is an async factory that starts the drivers first; attaching
devices and syncing start in the ``cleanup_ctx`` generator, which also closes everything
in reverse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field

from hardware_bridge.boxoffice import web as boxoffice_web
from hardware_bridge.devices import OnboardingError
from hardware_bridge.handheld import add_handheld
from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.domain.gate import Direction, Medium
from hub.sdk import Clock, DeviceDriver
from hub.sdk.runtime import HubPlugins, refuse_default_secrets
from hub.sdk.web import MAX_BODY, ApiError, ApiRoutes, error_middleware, read_model, require_bearer

BRIDGE = web.AppKey("bridge", Bridge)
MAX_BODY_BYTES = 1_048_576


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="", max_length=64)  # "" = <vendor>-<serial the device reports>
    vendor: str = Field(min_length=1, max_length=32)
    address: str = Field(default="", max_length=300)
    gate: str = Field(default="", max_length=64)
    serial: str = Field(default="", max_length=64)
    options: dict[str, Any] = Field(default_factory=dict)


class ManualIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200)
    gate: str = Field(default="", max_length=64)
    ticket: str = Field(default="", max_length=1024)
    medium: Medium = Medium.QR
    direction: Direction = Direction.IN
    device_id: str = Field(default="", max_length=64)
    open_door: bool = False
    count: int = Field(default=1, ge=1, le=500)  # people let in together without a ticket


_STATUS = {
    "UNKNOWN_VENDOR": 400,
    "INVALID_REQUEST": 400,
    "DUPLICATE_DEVICE": 409,
    "DUPLICATE_SERIAL": 409,
    "SERIAL_MISMATCH": 409,
    "AUTH_FAILED": 422,  # the device refused the credentials staff entered
    "INVALID_DEVICE_CONFIG": 422,  # what staff entered cannot work (a missing option, …)
    "DEVICE_UNREACHABLE": 502,
    "ATTACH_FAILED": 502,
    "NO_SERIAL": 502,
    "UNKNOWN_DEVICE": 404,
    "NO_DISCOVERY": 400,
}


def _onboarding(exc: OnboardingError) -> ApiError:
    return ApiError(_STATUS.get(exc.code, 400), exc.code, exc.message)


async def create_app(
    settings: BridgeSettings,
    *,
    clock: Clock | None = None,
    plugins: HubPlugins | None = None,
    drivers: Mapping[str, DeviceDriver] | None = None,
    sync: bool = True,
) -> web.Application:
    """Build the bridge's app (async: drivers start and mount their routes first).

    :raises hub.devmode.DefaultSecretsError: the staff token is still the development
        default and ``TICKETHUB_DEV=1`` is not set.
    """
    refuse_default_secrets("bridge", settings.default_secrets())
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[MAX_BODY] = MAX_BODY_BYTES
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    bridge = Bridge(settings, http, clock=clock, plugins=plugins, drivers=drivers)
    app[BRIDGE] = bridge
    try:
        await bridge.start_drivers()
        add_routes(bridge.host.routes, settings)
        add_handheld(bridge.host.routes, bridge, settings)
        boxoffice_web.add_routes(bridge.host.routes, settings, lambda r: r.app[BRIDGE])
        app.router.add_routes(bridge.host.routes.table)
    except BaseException:
        await http.close()
        bridge.close()
        raise

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        try:
            await bridge.start(sync=sync)
            yield
        finally:
            await bridge.stop()
            await http.close()
            bridge.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def add_routes(routes: ApiRoutes, settings: BridgeSettings) -> None:
    """Routes of the bridge itself (drivers mounted theirs in ``start_drivers``)."""

    def admin(request: web.Request) -> Bridge:
        require_bearer(request, settings.admin_token)
        return request.app[BRIDGE]

    @routes.get("/status", summary="Online/offline, sync and device health", tag="bridge")
    async def status(request: web.Request) -> web.Response:
        return web.json_response(request.app[BRIDGE].status())

    @routes.get(
        "/metrics",
        summary="Prometheus metrics of this bridge (devices, backlog, link, sync rounds)",
        tag="bridge",
        media=CONTENT_TYPE_LATEST.split(";")[0],
    )
    async def metrics(request: web.Request) -> web.Response:
        resp = web.Response(body=request.app[BRIDGE].metrics.exposition())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    @routes.get("/admin/devices", summary="Onboarded devices and their health", tag="bridge")
    async def devices(request: web.Request) -> web.Response:
        return web.json_response({"devices": admin(request).host.status()})

    @routes.get(
        "/admin/devices/discover",
        summary="Devices of a vendor answering on the LAN (?vendor=uhppote&timeout=1)",
        tag="bridge",
    )
    async def discover(request: web.Request) -> web.Response:
        bridge = admin(request)
        vendor = request.query.get("vendor", "")
        try:
            timeout = float(request.query.get("timeout", "1"))
        except ValueError:
            raise ApiError(400, "INVALID_REQUEST", "timeout: a number of seconds") from None
        if not 0 < timeout <= 10:
            raise ApiError(400, "INVALID_REQUEST", "timeout: between 0 and 10 seconds")
        try:
            found = await bridge.host.discover(vendor, timeout)
        except OnboardingError as exc:
            raise _onboarding(exc) from exc
        return web.json_response({"vendor": vendor, "devices": found})

    @routes.post("/admin/devices", summary="Onboard a device", tag="bridge", body=DeviceIn)
    async def add_device(request: web.Request) -> web.Response:
        bridge = admin(request)
        body = await read_model(request, DeviceIn)
        try:
            result = await bridge.host.add_device(
                body.vendor,
                device_id=body.id,
                address=body.address,
                gate=body.gate,
                serial=body.serial,
                options=body.options,
            )
        except OnboardingError as exc:
            raise _onboarding(exc) from exc
        return web.json_response(result, status=201)

    @routes.route("DELETE", "/admin/devices/{device_id}", summary="Remove a device", tag="bridge")
    async def remove_device(request: web.Request) -> web.Response:
        bridge = admin(request)
        if not await bridge.host.remove_device(request.match_info["device_id"]):
            raise ApiError(404, "UNKNOWN_DEVICE", "No such device")
        return web.json_response({"removed": request.match_info["device_id"]})

    @routes.post(
        "/admin/manual", summary="Record a staff manual admission", tag="bridge", body=ManualIn
    )
    async def manual(request: web.Request) -> web.Response:
        bridge = admin(request)
        body = await read_model(request, ManualIn)
        if body.ticket and body.count != 1:
            raise ApiError(400, "INVALID_REQUEST", "count: exactly 1 with a ticket")
        result = bridge.manual_admission(
            staff=body.staff,
            reason=body.reason,
            gate=body.gate,
            ticket=body.ticket,
            medium=body.medium,
            direction=body.direction,
            device_id=body.device_id,
            count=body.count,
        )
        if body.open_door and body.device_id:
            try:
                await bridge.host.open_door(body.device_id)
            except OnboardingError as exc:
                raise _onboarding(exc) from exc
        return web.json_response(result, status=201)
