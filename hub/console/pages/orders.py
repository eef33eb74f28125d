"""Orders for the operations team: search (order id, partner order id, phone, ID
number), one order's page with its timeline, and refund / cancel with a reason.

Reading is open to every signed-in role (what a person's data shows is masked); moving
an order needs an operator (`require_role`), the form's CSRF token (the console
middleware) and a reason, and leaves an audit line in the move's own transaction
(`hub.console.ops.actions`).
"""

from __future__ import annotations

from aiohttp import web

from hub.console.ops import actions, labels, search, timeline
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    gettext,
    hub_of,
    remote_of,
    render,
    require_role,
    signed_in,
)

routes = web.RouteTableDef()
NAV = (NavItem("console.orders", N_("Orders"), Role.viewer),)
ORDER_ID_MAX = 40


def _context(request: web.Request) -> dict[str, object]:
    return {
        "labels": labels,
        "label": labels.label,
        "can_move": signed_in(request).role.allows(Role.operator),
    }


@routes.get("/orders", name="console.orders")
@require_role(Role.viewer)
async def orders_page(request: web.Request) -> web.StreamResponse:
    return await render(request, "orders.html", {"query": "", "found": None, **_context(request)})


@routes.post("/orders", name="console.orders_search")
@require_role(Role.viewer)
async def orders_search(request: web.Request) -> web.StreamResponse:
    """A search is a POST (with the form's CSRF token) so that a phone or ID number never
    sits in a URL — browser history, a proxy's log, a shared link."""
    form = await request.post()
    query = str(form.get("q", "")).strip()[: search.MAX_QUERY]
    hub = hub_of(request)
    found: list[search.Found] = []
    if query:
        async with console_of(request).engine.connect() as conn:
            found = await search.search(
                conn, hub.orders.ids, query, channels=hub.plugins.channels.names()
            )
    return await render(
        request, "orders.html", {"query": query, "found": found, **_context(request)}
    )


async def _order_page(
    request: web.Request, order_id: str, *, error: str = "", status: int = 200
) -> web.Response:
    if len(order_id) > ORDER_ID_MAX:
        raise web.HTTPNotFound()
    hub = hub_of(request)
    async with console_of(request).engine.connect() as conn:
        view = await timeline.load(conn, hub.orders.ids, order_id)
    if view is None:
        raise web.HTTPNotFound()
    done = request.query.get("done", "")
    return await render(
        request,
        "order.html",
        {
            "order": view,
            "error": error,
            "done": done if done in ("refund", "cancel") else "",
            "reason_max": actions.REASON_MAX,
            **_context(request),
        },
        status=status,
    )


@routes.get("/orders/{order_id}", name="console.order")
@require_role(Role.viewer)
async def order_page(request: web.Request) -> web.StreamResponse:
    return await _order_page(request, request.match_info["order_id"])


async def _move(request: web.Request, what: actions.Move) -> web.StreamResponse:
    order_id = request.match_info["order_id"]
    if len(order_id) > ORDER_ID_MAX:
        raise web.HTTPNotFound()
    form = await request.post()
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return await _order_page(request, order_id, error=gettext("Give a reason."), status=422)
    if len(reason) > actions.REASON_MAX:
        return await _order_page(
            request,
            order_id,
            error=gettext("The reason is too long (at most %(n)d characters).")
            % {"n": actions.REASON_MAX},
            status=422,
        )
    hub = hub_of(request)
    done = await actions.move(
        hub.orders,
        order_id,
        what,
        actor=signed_in(request).username,
        reason=reason,
        remote=remote_of(request),
        notify=hub.outbox.notify,
    )
    if done.code == "UNKNOWN_ORDER":
        raise web.HTTPNotFound()
    if not done.ok:
        message = gettext("Refused: %(message)s") % {"message": done.message or done.code}
        return await _order_page(request, order_id, error=message, status=409)
    url = request.app.router["console.order"].url_for(order_id=order_id)
    raise web.HTTPSeeOther(f"{url}?done={what}")


@routes.post("/orders/{order_id}/refund", name="console.order_refund")
@require_role(Role.operator)
async def refund(request: web.Request) -> web.StreamResponse:
    return await _move(request, "refund")


@routes.post("/orders/{order_id}/cancel", name="console.order_cancel")
@require_role(Role.operator)
async def cancel(request: web.Request) -> web.StreamResponse:
    return await _move(request, "cancel")
