"""The outbox for the operations team: calls waiting per partner, dead letters with their
last error, and replaying them (operators and up) — the same replay as ``tickethub
outbox retry`` (`hub.outbox.store.OutboxStore.retry_dead_in`), with one audit line per
call in the replay's own transaction."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.console.ops import labels
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    gettext,
    hub_of,
    record_audit,
    remote_of,
    render,
    require_role,
    signed_in,
)
from hub.domain.digits import ascii_int
from hub.outbox.store import DEAD, STATES, OutboxStore
from hub.outbox.store import T as OUTBOX

routes = web.RouteTableDef()
NAV = (NavItem("console.outbox", N_("Outbox"), Role.viewer),)
SHOWN = 200  # dead letters on the page
AT_ONCE = 500  # dead letters one "retry all" replays


async def _page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    engine = console_of(request).engine
    stats = await OutboxStore.stats(engine)
    backlog = [
        {"partner": partner, **{s: per.get(s, 0) for s in STATES}}
        for partner, per in sorted(stats.items())
    ]
    dead = await OutboxStore.list_calls(engine, state=DEAD, limit=SHOWN)
    retried = ascii_int(request.query.get("retried", "")) if request.query.get("retried") else None
    return await render(
        request,
        "outbox.html",
        {
            "backlog": backlog,
            "dead": dead,
            "dead_total": sum(b[DEAD] for b in backlog),
            "retried": retried,
            "error": error,
            "can_retry": signed_in(request).role.allows(Role.operator),
            "labels": labels,
            "label": labels.label,
        },
        status=status,
    )


@routes.get("/outbox", name="console.outbox")
@require_role(Role.viewer)
async def outbox_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post("/outbox/retry", name="console.outbox_retry")
@require_role(Role.operator)
async def retry(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    everything = form.get("all") == "1"
    ids = [n for n in (ascii_int(str(v)) for v in form.getall("id", [])) if n is not None]
    if not everything and not ids:
        return await _page(request, error=gettext("Choose the dead letters to retry."), status=422)
    hub = hub_of(request)
    services = console_of(request)
    now = services.clock.now()
    pick = (
        select(OUTBOX.c.id, OUTBOX.c.partner, OUTBOX.c.kind, OUTBOX.c.attempts, OUTBOX.c.last_error)
        .where(OUTBOX.c.state == DEAD)
        .order_by(OUTBOX.c.id)
        .limit(AT_ONCE)
    )
    if not everything:
        pick = pick.where(OUTBOX.c.id.in_(ids[:AT_ONCE]))
    async with services.engine.begin() as conn:
        before = {r.id: r for r in (await conn.execute(pick)).all()}
        revived = await OutboxStore.retry_dead_in(
            conn, sorted(before), now=now, policy_for=hub.outbox.policy_for
        )
        for call_id in revived:
            row = before[call_id]
            await record_audit(
                conn,
                now,
                actor=signed_in(request).username,
                action="outbox.retry",
                target=f"outbox:{call_id}",
                before={
                    "state": DEAD,
                    "partner": row.partner,
                    "kind": row.kind,
                    "attempts": row.attempts,
                    "last_error": (row.last_error or "")[:300],
                },
                after={"state": "pending"},
                remote=remote_of(request),
            )
    if revived:
        hub.outbox.notify()
    url = request.app.router["console.outbox"].url_for()
    raise web.HTTPSeeOther(f"{url}?retried={len(revived)}")
