"""Day-end reconciliation (对账) in the console: the day report with its CSV/XLSX export,
the discrepancy list with acknowledge / resolve, fetching WeChat's bill now and uploading
an OTA's settlement file.

Roles: everyone signed in reads; operators and up acknowledge and resolve (the people
who chase a missing payment); supervisors and up fetch and import statements (an import
writes discrepancies for everyone). Every move and import is in the audit log. The
figures, files and matching are `hub.reconcile`'s — the same code as
``tickethub report daily``, ``tickethub reconcile import`` and the admin API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.console.ops import labels
from hub.console.ops import reconcile as ops
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    gettext,
    hub_of,
    note_problem,
    remote_of,
    render,
    require_role,
    signed_in,
)
from hub.contracts import StatementSource
from hub.reconcile import store
from hub.reconcile.daily import fetch_and_import
from hub.reconcile.export import COLUMNS, to_csv, to_xlsx
from hub.reconcile.matching import KINDS
from hub.reconcile.report import UnknownVenue, day_report
from hub.reconcile.service import (
    UnsupportedChannel,
    channel_spec,
    import_statement,
    statement_merchant,
)
from hub.reconcile.wechat_bill import BillError
from hub.storage.db import reader

routes = web.RouteTableDef()
NAV = (
    NavItem("console.report", N_("Day report"), Role.viewer),
    NavItem("console.discrepancies", N_("Reconciliation"), Role.viewer),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_MAX = 20 * 1024 * 1024  # a day of 100,000 bill lines is ~15 MB of CSV


def _yesterday(request: web.Request) -> date:
    """Yesterday where the daily job counts days (the WeChat bill's day)."""
    hub = hub_of(request)
    zone = ZoneInfo(hub.settings.reconcile_timezone)
    return hub.clock.now().astimezone(zone).date() - timedelta(days=1)


def _day(value: str | None, default: date | None) -> date | None:
    """A YYYY-MM-DD from a form or query; `default` when absent; HTTP 400 when malformed
    (the page's own date inputs never send one)."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"not a date (YYYY-MM-DD): {value[:20]!r}") from None


# -- the day report ----------------------------------------------------------------------


async def _report(request: web.Request) -> tuple[Any, date, str | None]:
    day = _day(request.query.get("date"), _yesterday(request))
    assert day is not None
    venue = request.query.get("venue") or None
    try:
        async with reader(hub_of(request).engine).connect() as conn:
            return await day_report(conn, day, venue), day, venue
    except UnknownVenue:
        raise web.HTTPNotFound() from None


@routes.get("/reconcile/report", name="console.report")
@require_role(Role.viewer)
async def report_page(request: web.Request) -> web.StreamResponse:
    report, day, venue = await _report(request)
    query = urlencode({"date": day.isoformat(), **({"venue": venue} if venue else {})})
    return await render(
        request,
        "reconcile_report.html",
        {
            "day": day,
            "venue": venue or "",
            "rows": [r.as_dict() for r in report.rows],
            "totals": report.totals(),
            "by_channel": report.by_channel(),
            "columns": COLUMNS,
            "query": query,
        },
    )


@routes.get("/reconcile/report.{ext:csv|xlsx}", name="console.report_file")
@require_role(Role.viewer)
async def report_file(request: web.Request) -> web.StreamResponse:
    report, day, venue = await _report(request)
    ext = request.match_info["ext"]
    name = f"daily-{day.isoformat()}{'-' + venue if venue else ''}.{ext}"
    body = to_xlsx(report) if ext == "xlsx" else to_csv(report)
    return web.Response(
        body=body,
        content_type=XLSX if ext == "xlsx" else "text/csv",
        charset=None if ext == "xlsx" else "utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- discrepancies -------------------------------------------------------------------------


async def _discrepancies(
    request: web.Request,
    *,
    error: str = "",
    notice: str = "",
    status: int = 200,
    form: Mapping[str, Any] | None = None,
) -> web.Response:
    hub = hub_of(request)
    q = request.query
    day = _day(q.get("date"), None)
    channel = q.get("channel") or None
    state = q.get("state") if q.get("state") in store.STATES else None
    async with reader(hub.engine).connect() as conn:
        rows = await store.listing(conn, day=day, channel=channel, state=state)
    role = signed_in(request).role
    adapters = [e.obj for e in hub.plugins.channels]
    upload = form or {}
    return await render(
        request,
        "reconcile_discrepancies.html",
        {
            "rows": rows,
            "day": day.isoformat() if day else "",
            "channel": channel or "",
            "state": state or "",
            "states": store.STATES,
            "kinds": KINDS,
            "channels": ops.importable(adapters, hub.settings.channel_specs_dirs),
            "can_move": role.allows(Role.operator),
            "can_import": role.allows(Role.supervisor),
            "can_fetch": role.allows(Role.supervisor)
            and isinstance(hub.plugins.channels.find("wechat"), StatementSource),
            "yesterday": _yesterday(request).isoformat(),
            "upload_channel": str(upload.get("channel", "")),
            "upload_day": str(upload.get("date", "")),
            "note_max": store.NOTE_MAX,
            "labels": labels,
            "label": labels.label,
            "error": error,
            "notice": notice,
            "back": urlencode(_filters(request.query_string)),
        },
        status=status,
    )


@routes.get("/reconcile/discrepancies", name="console.discrepancies")
@require_role(Role.viewer)
async def discrepancies_page(request: web.Request) -> web.StreamResponse:
    return await _discrepancies(request, notice=done_message(request.query.get("done", "")))


def _back(request: web.Request, done: str) -> web.HTTPSeeOther:
    """Post/redirect/get to the list with the filters the person had (the forms post to
    URLs that carry them)."""
    url = request.app.router["console.discrepancies"].url_for()
    query = dict(_filters(request.query_string))
    query["done"] = done
    return web.HTTPSeeOther(f"{url}?{urlencode(query)}")


def _filters(query_string: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(query_string) if k in ("date", "channel", "state")]


def _move_route(verb: str) -> Any:
    @require_role(Role.operator)
    async def handler(request: web.Request) -> web.StreamResponse:
        raw_id = request.match_info["disc_id"]
        if not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 12:
            raise web.HTTPNotFound()
        form = await request.post()
        note = str(form.get("note", "")).strip()
        problem = note_problem(note, store.NOTE_MAX)
        if problem is not None:
            return await _discrepancies(request, error=problem, status=422)
        services, staff = console_of(request), signed_in(request)
        try:
            async with services.engine.begin() as conn:
                await ops.move(
                    conn,
                    int(raw_id),
                    verb,
                    actor=staff.username,
                    note=note,
                    now=services.clock.now(),
                    remote=remote_of(request),
                )
        except store.NotFound:
            raise web.HTTPNotFound() from None
        except store.BadMove:
            return await _discrepancies(
                request,
                error=gettext("Discrepancy %(id)s has moved on already (someone was first).")
                % {"id": raw_id},
                status=409,
            )
        raise _back(request, f"{verb}:{raw_id}")

    return handler


routes.post("/reconcile/discrepancies/{disc_id}/ack", name="console.discrepancy_ack")(
    _move_route("ack")
)
routes.post("/reconcile/discrepancies/{disc_id}/resolve", name="console.discrepancy_resolve")(
    _move_route("resolve")
)


# -- statements in ---------------------------------------------------------------------------


@routes.post("/reconcile/fetch", name="console.reconcile_fetch")
@require_role(Role.supervisor)
async def fetch(request: web.Request) -> web.StreamResponse:
    """WeChat's bill of a day (yesterday unless told), fetched and matched now: what the
    daily job does after 10:00 (`POST /api/admin/reconcile/fetch` for machines)."""
    hub, staff = hub_of(request), signed_in(request)
    form = await request.post()
    try:
        day = _day(str(form.get("date", "")), _yesterday(request))
    except web.HTTPBadRequest:
        return await _discrepancies(request, error=gettext("Choose a date."), status=422)
    assert day is not None
    source = hub.plugins.channels.find("wechat")
    if not isinstance(source, StatementSource):
        return await _discrepancies(
            request, error=gettext("WeChat Pay is not configured on this hub."), status=409
        )
    now = hub.clock.now()
    done = await fetch_and_import(hub.engine, source, day, now, by=staff.username)
    outcome = json.loads(done.detail) if done.outcome == "done" else {"detail": done.detail}
    async with hub.engine.begin() as conn:
        await ops.audit_import(
            conn,
            now,
            actor=staff.username,
            action="statement.fetch",
            channel="wechat",
            day=day,
            outcome={"outcome": done.outcome, **outcome},
            remote=remote_of(request),
        )
    if done.outcome != "done":
        return await _discrepancies(
            request,
            error=gettext("No WeChat bill imported for %(day)s: %(why)s")
            % {"day": day.isoformat(), "why": done.detail},
            status=409 if done.outcome in ("retry", "none") else 422,
        )
    await hub.alerts.evaluate_now()
    raise _back(request, _imported("wechat", day, outcome))


def _imported(channel: str, day: date, outcome: dict[str, Any]) -> str:
    return "import:{}:{}:{}:{}:{}".format(
        channel,
        day.isoformat(),
        outcome.get("lines", 0),
        outcome.get("discrepancies_new", 0),
        int(bool(outcome.get("already_imported"))),
    )


@routes.post("/reconcile/upload", name="console.reconcile_upload")
@require_role(Role.supervisor)
async def upload(request: web.Request) -> web.StreamResponse:
    """A partner's statement file (an OTA's settlement CSV/XLSX, or a WeChat bill) for a
    channel and day: read strictly, matched, stored in one transaction — or refused
    whole, with the line that is wrong."""
    hub, staff = hub_of(request), signed_in(request)
    form = await request.post()
    channel = str(form.get("channel", ""))
    try:
        day = _day(str(form.get("date", "")), None)
    except web.HTTPBadRequest:
        day = None
    file = form.get("file")
    if day is None or not channel or not isinstance(file, web.FileField):
        return await _discrepancies(
            request,
            error=gettext("Choose a channel, the statement's date and its file."),
            status=422,
            form=form,
        )
    raw = file.file.read(FILE_MAX + 1)
    if len(raw) > FILE_MAX:
        return await _discrepancies(
            request, error=gettext("The file is too large."), status=413, form=form
        )
    spec = channel_spec(
        channel, (e.obj for e in hub.plugins.channels), hub.settings.channel_specs_dirs
    )
    now = hub.clock.now()
    try:
        imported = await import_statement(
            hub.engine,
            channel=channel,
            day=day,
            raw=raw,
            merchant=statement_merchant(channel, spec, hub.settings.channel_settings),
            spec=spec,
            by=staff.username,
            now=now,
        )
    except (BillError, UnsupportedChannel) as exc:
        return await _discrepancies(
            request,
            error=gettext("%(file)s refused, nothing imported: %(why)s")
            % {"file": file.filename or "file", "why": str(exc)},
            status=422,
            form=form,
        )
    outcome = {"file": (file.filename or "")[:200], **imported.as_dict()}
    async with hub.engine.begin() as conn:
        await ops.audit_import(
            conn,
            now,
            actor=staff.username,
            action="statement.upload",
            channel=channel,
            day=day,
            outcome=outcome,
            remote=remote_of(request),
        )
    await hub.alerts.evaluate_now()
    raise _back(request, _imported(channel, day, outcome))


def done_message(done: str) -> str:
    """The notice after a redirect, from its short code (kept in the URL)."""
    parts = done.split(":")
    if parts[0] in ("ack", "resolve") and len(parts) == 2:
        what = gettext("acknowledged") if parts[0] == "ack" else gettext("resolved")
        return gettext("Discrepancy %(id)s %(what)s.") % {"id": parts[1], "what": what}
    if parts[0] == "import" and len(parts) == 6:
        _, channel, day, lines, new, already = parts
        if already == "1":
            return gettext("This %(channel)s statement of %(day)s was imported before.") % {
                "channel": channel,
                "day": day,
            }
        return gettext(
            "%(channel)s statement of %(day)s imported: %(lines)s lines, %(new)s new discrepancies."
        ) % {"channel": channel, "day": day, "lines": lines, "new": new}
    return ""
