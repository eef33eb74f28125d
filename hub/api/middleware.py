"""What every request goes through before the error handling: a request id, an access
log line, and per-route metrics.

- **Request id.** An incoming ``X-Request-Id`` (from a proxy or the caller) is kept when
  it is a sane token, otherwise the hub makes one. It is answered in the response's
  ``X-Request-Id`` header and put on every log record written while the request is served
  (`hub.logformat.REQUEST_ID`), so one id ties the caller's report, the proxy's log and
  the hub's lines together.
- **Access log.** One line per request on the ``hub.access`` logger (INFO): method, path
  (never the query string: partners put signatures and tokens there), status, bytes and
  milliseconds; JSON logs carry the same as an ``http`` object. ``TICKETHUB_ACCESS_LOG=0``
  turns it off.
- **Metrics.** ``tickethub_http_requests_total{method,route,status}`` and
  ``tickethub_http_request_seconds{method,route}``, labelled by the route's canonical path
  (``/api/orders/{order_id}``), so the number of series stays that of the routes.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hub.logformat import REQUEST_ID
from hub.metrics import HTTP_LATENCY, HTTP_REQUESTS

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"

access_log = logging.getLogger("hub.access")


def request_id_of(incoming: str | None) -> str:
    """The caller's id when it is a short token of safe characters (it ends up in log
    lines and headers), else a new one."""
    if incoming and _SANE.match(incoming):
        return incoming
    return uuid.uuid4().hex


def route_of(request: web.Request) -> str:
    """The matched route's canonical path, or one label for everything unmatched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def observe(*, log_requests: bool = True) -> Middleware:
    """The outermost middleware (before `hub.sdk.web.errors.error_middleware`, so it sees
    the status the caller gets)."""

    @web.middleware
    async def observe_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = request_id_of(request.headers.get(HEADER))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status, size = 500, 0
        try:
            response = await handler(request)
            status = response.status
            size = response.body_length if response.prepared else _length(response)
            if not response.prepared:
                response.headers[HEADER] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers[HEADER] = request_id
            raise
        finally:
            elapsed = time.perf_counter() - started
            method = request.method if request.method in _METHODS else "OTHER"
            route = route_of(request)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            if log_requests and access_log.isEnabledFor(logging.INFO):
                ms = round(elapsed * 1000, 1)
                access_log.info(
                    "%s %s %d %dB %.1fms",
                    request.method,
                    request.path,
                    status,
                    size,
                    ms,
                    extra={
                        "http": {
                            "method": request.method,
                            "path": request.path,
                            "route": route,
                            "status": status,
                            "bytes": size,
                            "ms": ms,
                            "remote": request.remote or "",
                        }
                    },
                )
            REQUEST_ID.reset(token)

    return observe_request


def _length(response: web.StreamResponse) -> int:
    if isinstance(response, web.Response) and response.body is not None:
        try:
            return len(response.body)  # type: ignore[arg-type]
        except TypeError:
            return 0
    return 0


async def answer_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the header on responses a handler prepared itself
    (streams), which the middleware sees only after their headers are sent."""
    request_id = REQUEST_ID.get()
    if request_id and HEADER not in response.headers:
        response.headers[HEADER] = request_id


def forwarded_for(trusted: Sequence[str]) -> Middleware:
    """The client's address behind a load balancer: when the peer is one of the
    ``trusted`` proxies (``TICKETHUB_TRUSTED_PROXIES``, addresses or CIDR networks), the
    request's ``remote`` becomes the right-most ``X-Forwarded-For`` entry that is not a
    trusted proxy — what the console's login throttle, its audit and the access log read
    through ``request.remote``. From any other peer the header is ignored: a client
    cannot pick the address its throttle is counted under."""
    networks = [ipaddress.ip_network(t.strip(), strict=False) for t in trusted if t.strip()]

    def is_trusted(addr: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(addr or "")
        except ValueError:
            return False
        return any(ip in n for n in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("X-Forwarded-For")
        if networks and header and is_trusted(request.remote):
            hops = [h.strip() for h in header.split(",") if h.strip()]
            client = next((h for h in reversed(hops) if not is_trusted(h)), None)
            if client is not None:
                request = request.clone(remote=client)
        return await handler(request)

    return middleware
