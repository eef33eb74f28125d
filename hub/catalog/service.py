"""Catalog reads are far more frequent than writes: every order reads its products, prices
and rule documents. They are cached in-process (cachetools TTL caches) and invalidated
locally on every admin write; other hub processes see a change within `ttl` seconds.

Stale reads are safe by construction: capacity is never cached (the inventory's atomic
update decides), only descriptions, prices and rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.domain import Product, Venue
from hub.domain.credentials import CredentialSigner, generate_keypair
from hub.domain.errors import DeniedError
from hub.domain.rules import CompiledRules, RuleDocumentError, RuleEngine
from hub.storage.db import reader
from hub.storage.tables import InventoryRow, ProductRow, VenueRow

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class VenueKeys:
    key_id: int
    public_key: str
    signer: CredentialSigner | None


@dataclass(frozen=True, slots=True)
class Allotment:
    channel: str
    fallback: bool


class CatalogService:
    def __init__(self, engine: AsyncEngine, rules: RuleEngine, clock: Clock, ttl: float = 5.0):
        self.engine = reader(engine)
        self._writer = engine
        self.rules = rules
        self.clock = clock
        self._venues: TTLCache[str, tuple[Venue, VenueKeys] | None] = TTLCache(1024, ttl)
        self._products: TTLCache[str, Product | None] = TTLCache(65536, ttl)
        self._compiled: TTLCache[str, tuple[Product, CompiledRules]] = TTLCache(65536, ttl)
        self._allotments: TTLCache[str, dict[str, Allotment]] = TTLCache(4096, ttl)
        self._loading: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def _once(self, kind: str, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Single flight: when a cold cache meets a burst, one query fills it and the
        rest of the burst waits for that answer instead of asking too."""
        pending = self._loading.get((kind, key))
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[(kind, key)] = fut
        try:
            value = await load()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # consumed here; waiters re-raise it
            raise
        else:
            fut.set_result(value)
            return value
        finally:
            del self._loading[(kind, key)]

    # -- reads --------------------------------------------------------------------------
    async def venue(self, venue_id: str) -> tuple[Venue, VenueKeys] | None:
        if venue_id in self._venues:
            return self._venues[venue_id]
        return await self._once("venue", venue_id, lambda: self._load_venue(venue_id))

    async def _load_venue(self, venue_id: str) -> tuple[Venue, VenueKeys] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(VenueRow).where(VenueRow.id == venue_id))).first()
        value = None
        if row is not None:
            value = (
                Venue(id=row.id, name=row.name, timezone=row.timezone),
                _keys(row.signing_key_id, row.signing_private_key, row.signing_public_key),
            )
        self._venues[venue_id] = value
        return value

    async def tz(self, venue_id: str) -> ZoneInfo:
        found = await self.venue(venue_id)
        return ZoneInfo(found[0].timezone if found else "Asia/Shanghai")

    async def product(self, product_id: str) -> Product | None:
        if product_id in self._products:
            return self._products[product_id]
        return await self._once("product", product_id, lambda: self._load_product(product_id))

    async def _load_product(self, product_id: str) -> Product | None:
        async with self.engine.connect() as conn:
            doc = (
                await conn.execute(select(ProductRow.doc).where(ProductRow.id == product_id))
            ).scalar()
        value = Product.model_validate(doc) if doc is not None else None
        self._products[product_id] = value
        return value

    async def products(self, venue_id: str | None = None) -> list[Product]:
        stmt = select(ProductRow.doc).order_by(ProductRow.id)
        if venue_id:
            stmt = stmt.where(ProductRow.venue_id == venue_id)
        async with self.engine.connect() as conn:
            docs = (await conn.execute(stmt)).scalars().all()
        return [Product.model_validate(d) for d in docs]

    def compiled_rules(self, product: Product) -> CompiledRules:
        """The product's rule document, validated and compiled once per product object.

        The entry keeps the product it was compiled from and must be that very object: a
        product re-read after a change is a new object (and `id()` values are reused
        once an old one is collected), so stale rules can never be served."""
        entry = self._compiled.get(product.id)
        if entry is None or entry[0] is not product:
            entry = (product, self.rules.compile(product.rules))
            self._compiled[product.id] = entry
        return entry[1]

    async def allotments(self, pool: str) -> dict[str, Allotment]:
        """Channels holding an allotment in `pool` (any day), with their fallback flag.

        Cached so an order from a channel without allotment costs one conditional update
        instead of two."""
        found = self._allotments.get(pool)
        if found is not None:
            return found
        return await self._once("allotments", pool, lambda: self._load_allotments(pool))

    async def _load_allotments(self, pool: str) -> dict[str, Allotment]:
        stmt = (
            select(InventoryRow.bucket, InventoryRow.fallback)
            .where(InventoryRow.pool == pool, InventoryRow.bucket != "")
            .distinct()
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        found = {b: Allotment(b, bool(f)) for b, f in rows}
        self._allotments[pool] = found
        return found

    # -- writes -------------------------------------------------------------------------
    async def save_product(self, product: Product) -> None:
        """Validate what a product refers to (its rule document, venue and combo parts),
        then create or replace it. Raises `DeniedError` (INVALID_RULES with the path of
        the bad field, UNKNOWN_VENUE, UNKNOWN_PRODUCT)."""
        try:
            self.rules.compile(product.rules)
        except RuleDocumentError as exc:
            raise DeniedError.of("INVALID_RULES", str(exc), path=exc.path) from exc
        if await self.venue(product.venue_id) is None:
            raise DeniedError.of("UNKNOWN_VENUE", f"No venue {product.venue_id}")
        for comp in product.components:
            part = await self.product(comp.product_id)
            if part is None or part.pool is None:
                raise DeniedError.of(
                    "UNKNOWN_PRODUCT", f"Combo part {comp.product_id} is not a pooled product"
                )
        values = {
            "id": product.id,
            "venue_id": product.venue_id,
            "doc": product.model_dump(mode="json"),
            "updated_at": self.clock.now(),
        }
        async with self._writer.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            ins = dialect.insert(ProductRow.__table__).values(values)
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"}
                )
            )
        self.forget_product(product.id)

    # -- invalidation -------------------------------------------------------------------
    def forget_venue(self, venue_id: str) -> None:
        self._venues.pop(venue_id, None)

    def forget_product(self, product_id: str) -> None:
        self._products.pop(product_id, None)

    def forget_allotments(self, pool: str) -> None:
        self._allotments.pop(pool, None)


def _keys(key_id: int, private: str, public: str) -> VenueKeys:
    return VenueKeys(
        key_id=key_id,
        public_key=public,
        signer=CredentialSigner(private, key_id) if private else None,
    )


def new_venue_keys() -> dict[str, Any]:
    private, public = generate_keypair()
    return {"signing_key_id": 1, "signing_private_key": private, "signing_public_key": public}
