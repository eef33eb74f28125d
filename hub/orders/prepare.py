"""Everything about an order that needs no lock: products, prices, rules, the stock it
needs. Done before the order joins a transaction, so the transaction is only the atomic
part (idempotency key, stock, per-ID counters, rows)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.catalog import CatalogService, VenueKeys
from hub.domain import Denial, DenialCode, OrderRequest, Product, ProductKind, SlotInfo
from hub.domain.combo import Parts, parts_for
from hub.domain.rules import Claim, SaleContext
from hub.inventory import Need
from hub.inventory.daycap import cap_needs

MAX_CREDENTIAL_ENTRIES = 255  # one byte in the signed QR credential


@dataclass(frozen=True, slots=True)
class TicketSpec:
    product_id: str
    visitor_index: int | None
    holder_id_number: str | None
    entries_allowed: int
    units: int = 1
    parts: Parts | None = None  # a combo's entries per attraction (`hub.domain.combo`)


@dataclass(frozen=True, slots=True)
class Prepared:
    request: OrderRequest
    venue_id: str
    keys: VenueKeys
    unit_prices: tuple[int, ...]
    amount: int
    needs: tuple[Need, ...]
    buckets: tuple[str, ...]
    claims: tuple[Claim, ...]
    tickets: tuple[TicketSpec, ...]
    valid_from: datetime
    valid_until: datetime
    timezone: str = "Asia/Shanghai"  # the venue's: a sale's day is the venue's day
    caps: tuple[Need, ...] = ()  # the whole-day cap cells it takes (`hub.inventory.daycap`)


def _entries(parts: Parts | None, entries: int) -> int:
    """A combo ticket's entries are the sum of its parts' (each part keeps its own)."""
    return sum(p.allowed for p in parts.values()) if parts else entries


def entries_allowed(product: Product) -> int:
    """Entries a credential carries: the document's ``entries.total`` (default 1)."""
    return product.entries_allowed()


async def prepare(
    request: OrderRequest, catalog: CatalogService, now: datetime
) -> Prepared | Denial:
    products: list[Product] = []
    for line in request.lines:
        product = await catalog.product(line.product_id)
        if product is None:
            return Denial(DenialCode.UNKNOWN_PRODUCT, f"Unknown product {line.product_id}")
        if not product.active:
            return Denial(DenialCode.PRODUCT_INACTIVE, f"{product.name} is not on sale")
        if not product.sold_on(request.channel):
            return Denial(DenialCode.CHANNEL_NOT_ALLOWED, f"{product.name} not sold here")
        products.append(product)

    venue_ids = {p.venue_id for p in products}
    if len(venue_ids) != 1 or (request.venue_id and request.venue_id not in venue_ids):
        return Denial(DenialCode.INVALID_REQUEST, "All products must belong to one venue")
    venue_id = venue_ids.pop()
    found = await catalog.venue(venue_id)
    if found is None:
        return Denial(DenialCode.UNKNOWN_PRODUCT, f"Unknown venue {venue_id}")
    venue, keys = found
    tz = ZoneInfo(venue.timezone)
    if request.hold_until is not None and request.hold_until <= now:
        return Denial(DenialCode.INVALID_REQUEST, "hold_until is in the past")
    try:
        slot = SlotInfo.parse(request.slot)
    except ValueError:
        return Denial(DenialCode.SLOT_NOT_USABLE, f"Bad slot {request.slot!r}")

    prices: list[int] = []
    for product in products:
        price = product.price_for(request.channel, request.travel_date, request.account)
        if price is None:
            return Denial(DenialCode.NO_PRICE, f"No price for {product.name} on that date")
        prices.append(price)
    amount = sum(p * line.quantity for p, line in zip(prices, request.lines, strict=True))
    if request.amount is not None and request.amount != amount:
        return Denial(
            DenialCode.AMOUNT_MISMATCH,
            "Amount does not match the price",
            {"expected": amount, "given": request.amount},
        )

    claims: list[Claim] = []
    for index, product in enumerate(products):
        ctx = SaleContext.for_line(request, index, product, now=now, tz=tz, slot=slot)
        decision = catalog.rules.evaluate_sale(catalog.compiled_rules(product), ctx)
        if decision.denial is not None:
            return decision.denial
        claims.extend(decision.claims)

    needs: dict[str, int] = defaultdict(int)
    for product, line in zip(products, request.lines, strict=True):
        if product.kind is ProductKind.COMBO:
            for comp in product.components:
                part = await catalog.product(comp.product_id)
                if part is None or part.pool is None:
                    return Denial(
                        DenialCode.UNKNOWN_PRODUCT, f"Combo part {comp.product_id} missing"
                    )
                needs[part.pool] += comp.quantity * line.quantity
        else:
            assert product.pool is not None  # enforced by Product
            needs[product.pool] += line.quantity

    buckets: list[str] = []
    for pool in needs:
        allot = (await catalog.allotments(pool)).get(request.channel)
        if allot is not None:
            buckets = [request.channel, ""] if allot.fallback else [request.channel]
            break
    else:
        buckets = [""]

    specs: list[TicketSpec] = []
    unit = 0
    for product, line in zip(products, request.lines, strict=True):
        entries = entries_allowed(product)
        if request.group_ticket:
            # One credential for the whole line: it admits `quantity` people, each with
            # the product's entries. A credential carries at most 255 entries.
            if entries * line.quantity > MAX_CREDENTIAL_ENTRIES:
                return Denial(
                    DenialCode.QUANTITY_TOO_LARGE,
                    f"A group ticket admits at most {MAX_CREDENTIAL_ENTRIES // entries}",
                )
            parts = parts_for(product, line.quantity)
            specs.append(
                TicketSpec(
                    product.id,
                    None,
                    None,
                    _entries(parts, entries * line.quantity),
                    line.quantity,
                    parts,
                )
            )
            unit += line.quantity
            continue
        for _ in range(line.quantity):
            visitor = request.visitors[unit] if unit < len(request.visitors) else None
            specs.append(
                TicketSpec(
                    product_id=product.id,
                    visitor_index=unit if visitor else None,
                    holder_id_number=visitor.id_number if visitor else None,
                    entries_allowed=_entries(parts_for(product), entries),
                    parts=parts_for(product),
                )
            )
            unit += 1

    valid_days = max(p.valid_days for p in products)
    start = datetime.combine(request.travel_date, time(0), tz)
    return Prepared(
        request=request,
        venue_id=venue_id,
        keys=keys,
        unit_prices=tuple(prices),
        amount=amount,
        needs=tuple(Need(pool, q) for pool, q in sorted(needs.items())),
        buckets=tuple(buckets),
        claims=tuple(claims),
        tickets=tuple(specs),
        valid_from=start,
        valid_until=start + timedelta(days=valid_days),
        timezone=venue.timezone,
        caps=cap_needs(venue_id, [(ln.product_id, ln.quantity) for ln in request.lines]),
    )
