"""The hub's aiohttp application factory.

Resources open in one `cleanup_ctx` generator, in order, and close in reverse — also when
start-up fails half way. Everything plugins need is injected through `ChannelContext`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.alerts import AlertService
from hub.alerts.delivery import build_destinations, check_destinations, deliverer
from hub.api import (
    admin,
    alerts,
    bridge,
    combos,
    emergency,
    faces,
    health,
    limits,
    public,
    reconcile,
    wall,
)
from hub.api import stock as stock_api
from hub.api.middleware import answer_request_id, forwarded_for, observe
from hub.catalog import CatalogService
from hub.channels.generic import SpecChannelEvents, spec_channels
from hub.clock import Clock, SystemClock
from hub.console.app import create_console
from hub.contracts import ChannelContext, StatementSource
from hub.devmode import refuse_default_secrets
from hub.domain.rules import RuleEngine
from hub.emergency.giveback import GiveBack
from hub.faces import FaceCipher, FaceService, key_from_settings
from hub.orders import OrderService
from hub.outbox import Outbox
from hub.plugin_store import PluginStore
from hub.plugins import HubPlugins, build_plugins
from hub.reconcile.daily import DailyReconcile
from hub.sdk.web.errors import error_middleware
from hub.sdk.web.parsing import MAX_BODY
from hub.sdk.web.routing import ApiRoutes
from hub.settings import Settings
from hub.stockpush.lane import deliverer as stock_deliverer
from hub.stockpush.service import StockPushService
from hub.storage import migrate
from hub.storage.db import create_engine
from hub.storage.shared_limits import SHARED_LIMITS, SharedBuckets
from hub.wall import devices as wall_devices
from hub.wall.stream import WallFeed

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """The services of one running application (typed app state)."""

    settings: Settings
    plugins: HubPlugins
    clock: Clock
    engine: AsyncEngine
    catalog: CatalogService
    orders: OrderService
    outbox: Outbox
    http: aiohttp.ClientSession
    routes: ApiRoutes
    faces: FaceService
    alerts: AlertService
    stock: StockPushService
    wall: WallFeed
    daily: DailyReconcile | None = None

    def store_for(self, namespace: str) -> PluginStore:
        return PluginStore(self.engine, self.clock, namespace)


HUB = web.AppKey("hub", Hub)


def create_app(
    settings: Settings | None = None,
    *,
    plugins: HubPlugins | None = None,
    clock: Clock | None = None,
    migrate_on_start: bool = True,
) -> web.Application:
    """The hub's application.

    :raises hub.devmode.DefaultSecretsError: a secret is still a development default and
        ``TICKETHUB_DEV=1`` is not set.
    """
    settings = settings or Settings()
    # Before anything opens: no hub runs on the public development secrets by accident.
    refuse_default_secrets("hub", settings.default_secrets())
    ids = settings.id_numbers()  # an unusable key fails here, before anything opens
    plugins = plugins or build_plugins(blocked=settings.blocked_plugins)
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[
            forwarded_for(settings.trusted_proxies),
            observe(log_requests=settings.access_log),
            error_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app.on_response_prepare.append(answer_request_id)
    app[MAX_BODY] = settings.max_body_bytes
    routes = ApiRoutes()
    public.add_routes(routes)
    admin.add_routes(routes)
    limits.add_routes(routes)
    combos.add_routes(routes)
    bridge.add_routes(routes)
    emergency.add_routes(routes)
    faces.add_routes(routes)
    reconcile.add_routes(routes)
    alerts.add_routes(routes)
    health.add_routes(routes)
    stock_api.add_routes(routes)
    wall.add_routes(routes)
    # a destination naming an unknown sink is a configuration error before anything opens
    check_destinations(settings.alert_destinations, plugins.alert_sinks)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        try:
            if migrate_on_start:
                await migrate.upgrade(engine, id_numbers=ids)
            http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            try:
                catalog = CatalogService(engine, RuleEngine(plugins.rules), clock)
                wall_feed = WallFeed(
                    engine,
                    clock.now,
                    poll_seconds=settings.wall_poll_seconds,
                    min_interval=settings.wall_min_interval_seconds,
                    devices=wall_devices.reported(clock.now),
                )
                destinations = build_destinations(
                    settings.alert_destinations, plugins.alert_sinks, http, clock
                )
                stock = StockPushService(
                    engine,
                    pushers=plugins.stock_pushers,
                    catalog=catalog,
                    clock=clock,
                    every_seconds=settings.stock_push_seconds,
                )
                outbox = Outbox.with_workers(
                    engine,
                    deliverer=stock_deliverer(
                        lambda: stock, deliverer(destinations, plugins.channels.find)
                    ),
                    clock=clock,
                    count=settings.outbox_workers,
                    poll_seconds=settings.outbox_poll_seconds,
                    lease_seconds=settings.outbox_lease_seconds,
                )
                orders = OrderService(
                    engine,
                    catalog=catalog,
                    plugins=plugins,
                    clock=clock,
                    enqueue=lambda conn, calls, _now: outbox.enqueue(conn, calls),
                    ids=ids,
                    hold_ttl=timedelta(seconds=settings.hold_ttl_seconds),
                    batch_max=settings.batch_max,
                    queue_max=settings.order_queue_max,
                    writer_thread=settings.writer_thread,
                    unsafe_inventory=settings.unsafe_inventory,
                    on_calls=outbox.notify,
                    on_change=wall_feed.touch,
                    on_stock=stock.notify,
                )
                stock.bind(outbox, orders)
                face_service = FaceService(
                    engine,
                    clock,
                    FaceCipher(key_from_settings(settings.face_key, settings.id_hash_secret)),
                    max_bytes=settings.face_max_bytes,
                )
                alert_service = AlertService(
                    engine,
                    clock=clock,
                    enqueue=outbox.enqueue,
                    notify=outbox.notify,
                    destinations=destinations,
                    every_seconds=settings.alert_eval_seconds,
                )
                daily = DailyReconcile(
                    engine,
                    clock=clock,
                    sources=lambda: [
                        e.obj for e in plugins.channels if isinstance(e.obj, StatementSource)
                    ],
                    timezone=settings.reconcile_timezone,
                    run_after=settings.reconcile_run_after,
                    every_seconds=settings.reconcile_every_seconds,
                    after_import=alert_service.evaluate_now,
                )
                app[SHARED_LIMITS] = SharedBuckets(engine, timer=lambda: clock.now().timestamp())
                app[HUB] = Hub(
                    settings,
                    plugins,
                    clock,
                    engine,
                    catalog,
                    orders,
                    outbox,
                    http,
                    routes,
                    face_service,
                    alert_service,
                    stock,
                    wall_feed,
                    daily,
                )
                await orders.start(settings.expiry_sweep_seconds)
                giveback = GiveBack(engine, catalog, clock)
                giveback.start(settings.emergency_giveback_seconds)
                await outbox.start()
                await face_service.start(settings.face_purge_seconds)
                await alert_service.start()
                await stock.start()
                await daily.start()
                try:
                    yield
                finally:
                    await daily.stop()
                    await stock.stop()
                    await wall_feed.close()
                    await alert_service.stop()
                    await face_service.stop()
                    await outbox.stop()
                    await giveback.stop()
                    await orders.stop()
            finally:
                await http.close()
        finally:
            await engine.dispose()

    app.cleanup_ctx.append(lifecycle)

    async def end_streams(app: web.Application) -> None:
        if HUB in app:  # started
            await app[HUB].wall.close()

    # before the server waits for its handlers: open wall streams end now
    app.on_shutdown.append(end_streams)
    if settings.channel_specs_dirs:
        generic = spec_channels(
            plugins.channels, settings.channel_specs_dirs, protocols=plugins.protocols
        )
        if generic:
            plugins.add_event_listener(SpecChannelEvents(generic), "hub.spec_channels")
    # Channels mount their routes now (routes are fixed before the app starts); the
    # services they use are looked up through the context once the app is running.
    for entry in plugins.channels:
        entry.obj.setup(
            ChannelContext(
                routes=routes,
                clock=clock,
                services=lambda: app[HUB],
                settings=settings.channel_settings.get(entry.name, {}),
                staff_tokens={
                    "admin": settings.admin_token,
                    "boxoffice": settings.boxoffice_token,
                },
                protocols=plugins.protocols,
            )
        )
    app.router.add_routes(routes.table)
    # The staff console: pages for people, with its own session, CSRF and error pages.
    app.add_subapp("/console", create_console(settings, lambda: app[HUB].engine, clock))
    return app
