"""Alert rules for supervisors and admins: list, create, edit, turn off and on.

The form is one page for every kind: the kind's parameters are swapped in by htmx when
the kind changes (``alert_rule_params.html``), and the form is read into
`hub.alerts.rules.RuleIn` — the same model, checks and store the admin API uses — so a
rule the console accepts is one the API would, and the refusals say the same things.
Turning a rule off resolves its open alert with a clearing message (`hub.alerts.manual`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError
from sqlalchemy import select

from hub.alerts import manual
from hub.alerts import rules as rule_store
from hub.alerts.rules import RuleIn
from hub.console.pages.alerts import shown
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    error_page,
    gettext,
    hub_of,
    page_context,
    record_audit,
    remote_of,
    render,
    require_role,
    signed_in,
)
from hub.storage.db import reader
from hub.storage.tables import VenueRow

routes = web.RouteTableDef()
NAV = (NavItem("console.alert_rules", N_("Alert rules"), Role.supervisor),)
VENUE = VenueRow.__table__.c
ID = r"{rule_id:\d{1,9}}"

#: What each kind reads (`hub.alerts.measures`), as the form asks for it.
PARAMS: dict[str, tuple[str, ...]] = {
    "in_park_percent": ("venue_id", "maximum"),
    "dead_letters": ("partner",),
    "double_use": ("venue_id", "window_seconds"),
    "bridge_offline": ("venue_id",),
    "device_offline": ("venue_id", "device_id"),
    "bridge_clock_skew": ("venue_id",),
    "payment_failures": ("provider", "window_seconds"),
    "slot_arrival_rate": ("venue_id", "slot", "window_seconds"),
    "reconcile_discrepancies": ("channel", "days"),
}
WHOLE = frozenset({"maximum", "window_seconds", "days"})  # whole numbers; the rest are text
KIND_LABELS = {
    "in_park_percent": N_("In park, % of the maximum"),
    "dead_letters": N_("Dead-lettered partner calls"),
    "double_use": N_("Double use (entries that could not count)"),
    "bridge_offline": N_("Bridge offline, seconds"),
    "device_offline": N_("Device offline, seconds"),
    "bridge_clock_skew": N_("Bridge clock off, seconds"),
    "payment_failures": N_("Payment failures in the window"),
    "slot_arrival_rate": N_("A slot's arrivals per minute"),
    "reconcile_discrepancies": N_("Open reconciliation discrepancies"),
}
PARAM_LABELS = {
    "venue_id": N_("Venue"),
    "maximum": N_("Maximum in park (people)"),
    "partner": N_("Partner (empty: all)"),
    "device_id": N_("Device (empty: any)"),
    "provider": N_("Payment provider (empty: all)"),
    "slot": N_("Time slot"),
    "window_seconds": N_("Window (seconds)"),
    "channel": N_("Channel (empty: all)"),
    "days": N_("Days back (1-92)"),
}


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


def _rule_id(request: web.Request) -> int:
    return int(request.match_info["rule_id"])


async def _venues(request: web.Request) -> list[Mapping[str, Any]]:
    async with reader(hub_of(request).engine).connect() as conn:
        stmt = select(VENUE.id, VENUE.name).order_by(VENUE.id)
        return list((await conn.execute(stmt)).mappings().all())


def _destinations(request: web.Request) -> list[dict[str, str]]:
    return [
        {"name": name, "sink": d.sink.name}
        for name, d in sorted(hub_of(request).alerts.destinations.items())
    ]


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "kind": "in_park_percent",
        "params": {},
        "open_at": "",
        "clear_below": "",
        "destinations": [],
        "remind_seconds": 900,
        "enabled": True,
    }


def _from_form(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """The form as `RuleIn`'s input (what pydantic then checks): a kind's parameters
    only, empty optional ones left out, whole numbers as numbers when they are."""
    kind = str(form.get("kind", ""))
    params: dict[str, Any] = {}
    for key in PARAMS.get(kind, ()):
        raw = str(form.get(f"param_{key}", "")).strip()
        if raw:
            params[key] = int(raw) if key in WHOLE and raw.isascii() and raw.isdigit() else raw
    return {
        "name": str(form.get("name", "")).strip(),
        "kind": kind,
        "params": params,
        "open_at": str(form.get("open_at", "")).strip(),
        "clear_below": str(form.get("clear_below", "")).strip(),
        "destinations": [str(d) for d in form.getall("destinations", [])],
        "remind_seconds": str(form.get("remind_seconds", "")).strip(),
        "enabled": form.get("enabled") == "on",
    }


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {msg}" if where else msg)
    return out


async def _form(
    request: web.Request,
    rule: Mapping[str, Any],
    *,
    rule_id: int | None,
    errors: list[str] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    context = {
        "alerts": [shown(a) for a in alerts or []],
        "rule": rule,
        "rule_id": rule_id,
        "kinds": [(k, KIND_LABELS[k]) for k in PARAMS],
        "params": PARAMS.get(str(rule["kind"]), ()),
        "param_labels": PARAM_LABELS,
        "venues": await _venues(request),
        "destinations": _destinations(request),
        "errors": errors or [],
    }
    return await render(request, "alert_rule_form.html", context, status=status)


def _checked(request: web.Request, form: dict[str, Any]) -> tuple[RuleIn | None, list[str]]:
    try:
        body = RuleIn.model_validate(form)
    except ValidationError as exc:
        return None, _errors(exc)
    unknown = rule_store.unknown_destinations(body, hub_of(request).alerts.destinations)
    if unknown:
        return None, [gettext("No alert destination %(names)s") % {"names": ", ".join(unknown)}]
    return body, []


def _audited(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k not in ("created_at", "updated_at")}


@routes.get("/alerts/rules", name="console.alert_rules")
@require_role(Role.supervisor)
async def rules_page(request: web.Request) -> web.StreamResponse:
    async with reader(hub_of(request).engine).connect() as conn:
        rows = await rule_store.listing(conn)
    return await render(request, "alert_rules.html", {"rules": rows, "kind_labels": KIND_LABELS})


@routes.get("/alerts/rules/new", name="console.alert_rule_new")
@require_role(Role.supervisor)
async def new_rule(request: web.Request) -> web.StreamResponse:
    return await _form(request, _blank(), rule_id=None)


@routes.get("/alerts/rules/params", name="console.alert_rule_params")
@require_role(Role.supervisor)
async def params_fragment(request: web.Request) -> web.StreamResponse:
    """The parameter fields of the chosen kind (htmx swaps them in)."""
    kind = request.query.get("kind", "")
    context = {
        "rule": {**_blank(), "kind": kind},
        "params": PARAMS.get(kind, ()),
        "param_labels": PARAM_LABELS,
        "venues": await _venues(request),
    }
    return aiohttp_jinja2.render_template(
        "alert_rule_params.html", request, {**page_context(request), **context}
    )


@routes.post("/alerts/rules", name="console.alert_rule_create")
@require_role(Role.supervisor)
async def create_rule(request: web.Request) -> web.StreamResponse:
    staff, hub = signed_in(request), hub_of(request)
    form = _from_form(await request.post())
    body, errors = _checked(request, form)
    if body is None:
        return await _form(request, form, rule_id=None, errors=errors, status=422)
    now = hub.clock.now()
    try:
        async with console_of(request).engine.begin() as conn:
            row = await rule_store.create(conn, body, now)
            await record_audit(
                conn,
                now,
                actor=staff.username,
                action="alert_rule.create",
                target=f"alert_rule:{row['id']}",
                after=_audited(row),
                remote=remote_of(request),
            )
    except rule_store.DuplicateRule:
        why = gettext("A rule is already named %(name)s.") % {"name": body.name}
        return await _form(request, form, rule_id=None, errors=[why], status=409)
    raise web.HTTPSeeOther(_url(request, "console.alert_rules"))


@routes.get(f"/alerts/rules/{ID}", name="console.alert_rule_edit")
@require_role(Role.supervisor)
async def edit_rule(request: web.Request) -> web.StreamResponse:
    rule_id = _rule_id(request)
    async with reader(hub_of(request).engine).connect() as conn:
        rule = await manual.rule(conn, rule_id)
        alerts = await manual.of_rule(conn, rule_id, limit=20) if rule else []
    if rule is None:
        return error_page(request, 404, gettext("No such alert rule."))
    return await _form(request, rule, rule_id=rule_id, alerts=alerts)


@routes.post(f"/alerts/rules/{ID}", name="console.alert_rule_update")
@require_role(Role.supervisor)
async def update_rule(request: web.Request) -> web.StreamResponse:
    staff, hub, rule_id = signed_in(request), hub_of(request), _rule_id(request)
    form = _from_form(await request.post())
    body, errors = _checked(request, form)
    if body is None:
        return await _form(request, form, rule_id=rule_id, errors=errors, status=422)
    now = hub.clock.now()
    try:
        async with console_of(request).engine.begin() as conn:
            before = await manual.rule(conn, rule_id)
            row = await rule_store.replace(conn, rule_id, body, now) if before else None
            if before is not None and row is not None:
                await record_audit(
                    conn,
                    now,
                    actor=staff.username,
                    action="alert_rule.update",
                    target=f"alert_rule:{rule_id}",
                    before=_audited(before),
                    after=_audited(row),
                    remote=remote_of(request),
                )
    except rule_store.DuplicateRule:
        why = gettext("A rule is already named %(name)s.") % {"name": body.name}
        return await _form(request, form, rule_id=rule_id, errors=[why], status=409)
    if row is None:
        return error_page(request, 404, gettext("No such alert rule."))
    raise web.HTTPSeeOther(_url(request, "console.alert_rules"))


@routes.post(f"/alerts/rules/{ID}/enabled", name="console.alert_rule_enabled")
@require_role(Role.supervisor)
async def set_enabled(request: web.Request) -> web.StreamResponse:
    """Turn a rule off (its open alert resolves, with the clearing message) or on."""
    staff, hub, rule_id = signed_in(request), hub_of(request), _rule_id(request)
    enabled = (await request.post()).get("enabled") == "1"
    now = hub.alerts.clock.now()
    why = f"规则已停用 · rule turned off by {staff.username}"
    async with console_of(request).engine.begin() as conn:
        before = await manual.rule(conn, rule_id)
        done = await manual.set_enabled(
            conn, rule_id, enabled, now=now, enqueue=hub.outbox.enqueue, why=why
        )
        if before is not None and done is not None:
            after: dict[str, Any] = {"enabled": enabled}
            if done[1] is not None:
                after["resolved_alert"] = done[1].alert_id
            await record_audit(
                conn,
                now,
                actor=staff.username,
                action="alert_rule.enable" if enabled else "alert_rule.disable",
                target=f"alert_rule:{rule_id}",
                before={"enabled": before["enabled"]},
                after=after,
                remote=remote_of(request),
            )
    if done is None:
        return error_page(request, 404, gettext("No such alert rule."))
    if done[1] is not None:
        hub.outbox.notify()
    raise web.HTTPSeeOther(_url(request, "console.alert_rules"))
