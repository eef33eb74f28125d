"""Admin API of day-end reconciliation: the day report, statement import, and the
discrepancy list with its acknowledge / resolve moves (staff token, like every admin
route). The work is in `hub.reconcile`; these handlers only translate HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.staff import staff_hub
from hub.contracts import StatementSource
from hub.domain.digits import ascii_int
from hub.reconcile import store
from hub.reconcile.daily import fetch_and_import
from hub.reconcile.export import to_csv
from hub.reconcile.report import UnknownVenue, day_report
from hub.reconcile.service import (
    UnsupportedChannel,
    channel_spec,
    import_statement,
    statement_merchant,
)
from hub.reconcile.wechat_bill import BillError
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import path_id, query_day, read_model
from hub.sdk.web.routing import NO_BODY, ApiRoutes, raw_body
from hub.storage.db import reader


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=64, description="who")
    note: str = Field(min_length=1, max_length=500, description="what was seen or done")


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/api/admin/reports/daily",
        summary="Day report per venue, channel, product and slot (money in yuan)",
        tag="admin",
        auth="admin",
        query={
            "date": "YYYY-MM-DD, the venue-local day",
            "venue": "one venue (default: all)",
            "format": "json (default) or csv",
        },
        responses={200: "the report", 404: "unknown venue"},
    )
    async def get_daily(request: web.Request) -> web.StreamResponse:
        hub = staff_hub(request)
        day = query_day(request)
        fmt = request.query.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError(400, "INVALID_REQUEST", "format is json or csv")
        try:
            async with reader(hub.engine).connect() as conn:
                report = await day_report(conn, day, request.query.get("venue") or None)
        except UnknownVenue as exc:
            raise ApiError(404, "UNKNOWN_VENUE", f"No venue {exc}") from None
        if fmt == "csv":
            return web.Response(
                body=to_csv(report),
                content_type="text/csv",
                charset="utf-8",
                headers={"Content-Disposition": f'attachment; filename="daily-{day}.csv"'},
            )
        return web.json_response(report.as_dict())

    @routes.post(
        "/api/admin/reconcile/statements",
        summary="Import a partner statement (the body is the file) and match it",
        tag="admin",
        auth="admin",
        query={
            "channel": "wechat, or an OTA whose spec declares [settlement]",
            "date": "YYYY-MM-DD, the statement's day",
            "by": "who imports it",
            "midnight_window": "seconds around midnight counted as crossed_midnight (300)",
        },
        responses={200: "imported (or already imported)", 422: "the statement is refused"},
        body=raw_body(
            "text/csv",
            "application/gzip",
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            description="the statement file as the partner serves it (CSV, gzip, XLSX)",
        ),
    )
    async def post_statement(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        day = query_day(request)
        window = ascii_int(request.query.get("midnight_window", "300"), 4)
        if window is None or window > 3600:
            raise ApiError(400, "INVALID_REQUEST", "midnight_window is 0..3600 seconds")
        raw = await request.read()
        channel = request.query.get("channel", "")
        spec = channel_spec(
            channel, (e.obj for e in hub.plugins.channels), hub.settings.channel_specs_dirs
        )
        merchant = statement_merchant(channel, spec, hub.settings.channel_settings)
        try:
            result = await import_statement(
                hub.engine,
                channel=channel,
                day=day,
                raw=raw,
                merchant=merchant,
                spec=spec,
                by=request.query.get("by", "api")[:64],
                now=hub.clock.now(),
                window=timedelta(seconds=window),
            )
        except (BillError, UnsupportedChannel) as exc:
            line = exc.line if isinstance(exc, BillError) else 0
            why = f"{exc}; nothing imported"
            raise ApiError(422, "STATEMENT_REFUSED", why, line=line) from None
        return web.json_response(result.as_dict())

    @routes.post(
        "/api/admin/reconcile/fetch",
        summary="Fetch a partner's statement of a day now (WeChat's bill) and match it",
        tag="admin",
        auth="admin",
        query={"channel": "wechat", "date": "YYYY-MM-DD, the statement's day"},
        body=NO_BODY,
        responses={
            200: "fetched and imported (or already imported)",
            404: "the channel cannot fetch its statements",
            409: "no statement for that day (yet)",
            422: "the statement is refused",
        },
    )
    async def post_fetch(request: web.Request) -> web.Response:
        """What the daily job does at 10:00, on demand (a day it missed, a re-check)."""
        hub = staff_hub(request)
        day = query_day(request)
        name = request.query.get("channel", "")
        source = hub.plugins.channels.find(name)
        if not isinstance(source, StatementSource):
            raise ApiError(404, "UNKNOWN_CHANNEL", f"channel {name!r} cannot fetch statements")
        by = request.query.get("by", "api")[:64]
        done = await fetch_and_import(hub.engine, source, day, hub.clock.now(), by=by)
        if done.outcome == "done":
            await hub.alerts.evaluate_now()
            return web.json_response(json.loads(done.detail))
        if done.outcome == "failed" and done.detail.startswith("statement refused"):
            raise ApiError(422, "STATEMENT_REFUSED", f"{done.detail}; nothing imported")
        raise ApiError(409, "NO_STATEMENT", done.detail)

    @routes.get(
        "/api/admin/reconcile/discrepancies",
        summary="Discrepancies found by statement imports",
        tag="admin",
        auth="admin",
        query={
            "date": "YYYY-MM-DD (optional)",
            "channel": "e.g. wechat",
            "state": "open | acknowledged | resolved",
            "kind": "hub_only | partner_only | amount_mismatch | status_mismatch | "
            "duplicate | crossed_midnight",
        },
    )
    async def list_discrepancies(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        q = request.query
        day = query_day(request) if "date" in q else None
        try:
            async with reader(hub.engine).connect() as conn:
                rows = await store.listing(
                    conn,
                    day=day,
                    channel=q.get("channel") or None,
                    state=q.get("state") or None,
                    kind=q.get("kind") or None,
                )
        except store.BadMove as exc:
            raise ApiError(400, "INVALID_REQUEST", str(exc)) from None
        return web.json_response({"discrepancies": rows})

    for verb, state in (("ack", "acknowledged"), ("resolve", "resolved")):
        _add_move(routes, verb, state)


def _add_move(routes: ApiRoutes, verb: str, state: str) -> None:
    @routes.post(
        f"/api/admin/reconcile/discrepancies/{{disc_id}}/{verb}",
        summary=f"Mark a discrepancy {state}, with who and a note",
        tag="admin",
        body=MoveIn,
        auth="admin",
        responses={200: state, 404: "unknown discrepancy", 409: "not in a state to move"},
    )
    async def post_move(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        disc_id = path_id(request, "disc_id", "UNKNOWN_DISCREPANCY", "discrepancy")
        body = await read_model(request, MoveIn)
        try:
            row = await store.move(
                hub.engine, disc_id, state, by=body.by, note=body.note, now=hub.clock.now()
            )
        except store.NotFound as exc:
            raise ApiError(404, "UNKNOWN_DISCREPANCY", str(exc)) from None
        except store.BadMove as exc:
            raise ApiError(409, "INVALID_STATE", str(exc)) from None
        return web.json_response(row)
