"""Admin API of the stock push: what each OTA was told of a product's stock on a day,
beside what the hub would tell it now — the operator's "is Ctrip showing the right
number?" (and the demo's check that the OTAs follow a sale)."""

from __future__ import annotations

from aiohttp import web

from hub.api.staff import staff_hub
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import query_day
from hub.sdk.web.routing import ApiRoutes


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/api/admin/stock-push",
        summary="Per OTA channel: the stock last pushed and the live stock, per slot",
        tag="admin",
        auth="admin",
        query={"product_id": "the product", "date": "YYYY-MM-DD, the travel day"},
        responses={200: "per channel, per slot: told and live", 404: "unknown product"},
    )
    async def get_stock_push(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        day = query_day(request)
        product_id = request.query.get("product_id", "")
        if await hub.catalog.product(product_id) is None:
            raise ApiError(404, "UNKNOWN_PRODUCT", f"No product {product_id!r}")
        channels = {}
        for entry in hub.plugins.stock_pushers:
            told = await hub.stock.told(entry.name, product_id)
            avail = await hub.orders.availability(product_id, day, entry.name)
            channels[entry.name] = {
                "ready": entry.obj.ready(),
                "slots": {
                    str(s["code"]): {
                        "live": int(s["available"]),
                        "told": told.get((day, str(s["code"]))),
                    }
                    for s in avail.get("slots", ())
                },
            }
        return web.json_response(
            {"product_id": product_id, "date": day.isoformat(), "channels": channels}
        )
