"""Admin API of threshold alerts: rules (create, list, replace, delete), alerts (list,
acknowledge with who and a note), the configured destinations (secrets masked) and an
evaluate-now for operators. The work is in `hub.alerts`; these handlers translate HTTP."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.alerts import engine, rules
from hub.alerts.rules import RuleIn
from hub.api.staff import staff_hub
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import path_id, read_model
from hub.sdk.web.routing import NO_BODY, ApiRoutes
from hub.storage.db import reader


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=64, description="who")
    note: str = Field(min_length=1, max_length=500, description="what was seen or done")


def _checked(request: web.Request, body: RuleIn) -> None:
    unknown = rules.unknown_destinations(body, staff_hub(request).alerts.destinations)
    if unknown:
        raise ApiError(400, "UNKNOWN_DESTINATION", f"No alert destination {', '.join(unknown)}")


def add_routes(routes: ApiRoutes) -> None:
    @routes.get("/api/admin/alerts/rules", summary="Alert rules", tag="admin", auth="admin")
    async def list_rules(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        async with reader(hub.engine).connect() as conn:
            return web.json_response({"rules": await rules.listing(conn)})

    @routes.post(
        "/api/admin/alerts/rules",
        summary="Create an alert rule (thresholds with hysteresis, destinations, reminders)",
        tag="admin",
        body=RuleIn,
        auth="admin",
        responses={201: "created", 400: "invalid rule", 409: "name taken"},
    )
    async def post_rule(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, RuleIn)
        _checked(request, body)
        try:
            async with hub.engine.begin() as conn:
                row = await rules.create(conn, body, hub.clock.now())
        except rules.DuplicateRule:
            raise ApiError(409, "RULE_EXISTS", f"A rule is named {body.name!r}") from None
        return web.json_response(row, status=201)

    @routes.put(
        "/api/admin/alerts/rules/{rule_id}",
        summary="Replace an alert rule",
        tag="admin",
        body=RuleIn,
        auth="admin",
        responses={200: "replaced", 404: "unknown rule", 409: "name taken"},
    )
    async def put_rule(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        rule_id = path_id(request, "rule_id", "UNKNOWN_RULE", "rule")
        body = await read_model(request, RuleIn)
        _checked(request, body)
        try:
            async with hub.engine.begin() as conn:
                row = await rules.replace(conn, rule_id, body, hub.clock.now())
        except rules.DuplicateRule:
            raise ApiError(409, "RULE_EXISTS", f"A rule is named {body.name!r}") from None
        if row is None:
            raise ApiError(404, "UNKNOWN_RULE", f"No rule {rule_id}")
        return web.json_response(row)

    @routes.route(
        "DELETE",
        "/api/admin/alerts/rules/{rule_id}",
        summary="Delete an alert rule (its unresolved alert resolves, with a message)",
        tag="admin",
        auth="admin",
        responses={200: "deleted", 404: "unknown rule"},
    )
    async def delete_rule(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        rule_id = path_id(request, "rule_id", "UNKNOWN_RULE", "rule")
        now = hub.clock.now()
        async with hub.engine.begin() as conn:
            rule = await rules.remove(conn, rule_id)
            if rule is not None:
                a = engine.A
                value = (await conn.execute(select(a.value).where(a.open_key == rule_id))).scalar()
                if value is not None:
                    why = "规则已删除 · rule deleted"
                    await engine.resolve(conn, rule, value, why, now, hub.outbox.enqueue)
        if rule is None:
            raise ApiError(404, "UNKNOWN_RULE", f"No rule {rule_id}")
        hub.outbox.notify()
        return web.json_response({"deleted": rule})

    @routes.get(
        "/api/admin/alerts",
        summary="Alerts, newest first",
        tag="admin",
        auth="admin",
        query={"state": "open | acknowledged | resolved"},
    )
    async def list_alerts(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        try:
            async with reader(hub.engine).connect() as conn:
                rows = await engine.listing(conn, state=request.query.get("state") or None)
        except engine.BadMove as exc:
            raise ApiError(400, "INVALID_REQUEST", str(exc)) from None
        return web.json_response({"alerts": rows})

    @routes.post(
        "/api/admin/alerts/{alert_id}/ack",
        summary="Acknowledge an open alert, with who and a note (reminders stop)",
        tag="admin",
        body=AckIn,
        auth="admin",
        responses={200: "acknowledged", 404: "unknown alert", 409: "not open"},
    )
    async def ack(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        alert_id = path_id(request, "alert_id", "UNKNOWN_ALERT", "alert")
        body = await read_model(request, AckIn)
        try:
            async with hub.engine.begin() as conn:
                row = await engine.acknowledge(
                    conn, alert_id, by=body.by, note=body.note, now=hub.clock.now()
                )
        except engine.BadMove as exc:
            raise ApiError(409, "ALERT_NOT_OPEN", str(exc)) from None
        if row is None:
            raise ApiError(404, "UNKNOWN_ALERT", f"No alert {alert_id}")
        return web.json_response(row)

    @routes.get(
        "/api/admin/alerts/destinations",
        summary="Configured alert destinations (secrets masked)",
        tag="admin",
        auth="admin",
    )
    async def destinations(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        shown = [d.shown() for _, d in sorted(hub.alerts.destinations.items())]
        return web.json_response({"destinations": shown})

    @routes.post(
        "/api/admin/alerts/evaluate",
        summary="Evaluate every enabled rule now (the periodic evaluation does it too)",
        tag="admin",
        auth="admin",
        body=NO_BODY,
    )
    async def evaluate(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        moves = await hub.alerts.evaluate_now()
        return web.json_response(
            {
                "moves": [
                    {"rule": m.rule, "alert_id": m.alert_id, "transition": m.transition}
                    for m in moves
                ]
            }
        )
