"""Which pushes a stock change calls for: from committed marks to (channel, product, day,
slot) targets.

Step 1 of the stock pusher (`hub.stockpush.service`) reads here, outside its write
transaction: the catalog says which products draw on a pool (directly or as a combo
part) and which channels list them, and a whole-day cap's mark fans out to every slot
of the pools it bounds. Nothing here writes, so a tick holds SQLite's write lock only
for the few statements that must.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.inventory import daycap
from hub.storage.tables import InventoryRow

if TYPE_CHECKING:
    from hub.catalog import CatalogService
    from hub.domain import Product

Targets = dict[tuple[str, str, date, str], tuple[datetime, frozenset[int]]]
"""(channel, product, day, slot) → the oldest change, and the ids of the marks behind it."""


@dataclass(frozen=True, slots=True)
class _CapMark:
    """A slot's mark derived from its day cap's (like a ``stock_push`` row)."""

    pool: str
    day: date
    slot: str
    changed_at: datetime
    sources: tuple[int, ...]  # the ids of the cap marks it stands for


async def expand(
    reads: AsyncEngine, catalog: CatalogService, marks: Sequence[Any], channels: Sequence[str]
) -> Targets:
    """Each mark's (channel, product, day, slot) targets (see `Targets`)."""
    feeds = [(p, await _feeds(catalog, p)) for p in await catalog.products()]
    seen = [*marks, *await _cap_slots(reads, feeds, marks)]
    listings = _listings(feeds, {m.pool for m in seen}, channels)
    rows: Targets = {}
    for m in seen:
        ids = frozenset(m.sources if isinstance(m, _CapMark) else (m.id,))
        for channel, product in listings.get(m.pool, ()):
            key = (channel, product, m.day, m.slot)
            at, of = rows.get(key, (m.changed_at, frozenset()))
            rows[key] = (min(at, m.changed_at), of | ids)
    return rows


async def _feeds(catalog: CatalogService, product: Product) -> set[str]:
    """The pools a sale of ``product`` takes from: its own, and each combo part's."""
    feeds = {product.pool} if product.pool else set()
    for comp in product.components:
        part = await catalog.product(comp.product_id)
        if part is not None and part.pool:
            feeds.add(part.pool)
    return feeds


async def _cap_slots(
    reads: AsyncEngine, feeds: Sequence[tuple[Product, set[str]]], marks: Sequence[Any]
) -> list[_CapMark]:
    """A whole-day cap's cell (`hub.inventory.daycap`) moved: every slot of that day of
    the pools it bounds may now sell less (or more), so each becomes a mark too — the
    OTAs see the lower number when the cap binds, the slot's when it frees."""
    caps = {(m.pool, m.day): m for m in marks if daycap.is_cap_pool(m.pool)}
    if not caps:
        return []
    sources: dict[tuple[str, date], tuple[int, ...]] = {}
    for m in marks:
        if (m.pool, m.day) in caps:
            sources[(m.pool, m.day)] = (*sources.get((m.pool, m.day), ()), m.id)
    pools_of: dict[str, set[str]] = {}
    for product, pools in feeds:
        pools_of.setdefault(daycap.venue_cap_pool(product.venue_id), set()).update(pools)
        pools_of.setdefault(daycap.product_cap_pool(product.id), set()).update(pools)
    out: list[_CapMark] = []
    inv = InventoryRow.__table__.c
    async with reads.connect() as conn:
        for (pool, day), mark in sorted(caps.items()):
            pools = sorted(pools_of.get(pool, ()))
            if not pools:
                continue
            cells = await conn.execute(
                select(inv.pool, inv.slot)
                .where(inv.pool.in_(pools), inv.day == day, inv.bucket == "")
                .distinct()
            )
            ids = sources[(pool, day)]
            out += [_CapMark(p, day, s, mark.changed_at, ids) for p, s in cells.all()]
    return out


def _listings(
    feeds: Sequence[tuple[Product, set[str]]], pools: set[str], channels: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """pool → the (channel, product) pairs whose stock it feeds."""
    out: dict[str, list[tuple[str, str]]] = {}
    if not channels:
        return out
    for product, fed in feeds:
        if not product.active:
            continue
        for pool in fed & pools:
            for channel in channels:
                if product.channels is None or channel in product.channels:
                    out.setdefault(pool, []).append((channel, product.id))
    return out
