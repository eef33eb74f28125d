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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
class _Flight:
    """One catalog read in progress that others may wait for; `connected` when it reads
    through a connection its leader already holds (so it never waits for the pool)."""

    future: asyncio.Future[Any]
    connected: bool


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
        self._loading: dict[tuple[str, str], _Flight] = {}

    async def _once(
        self,
        kind: str,
        key: str,
        load: Callable[[AsyncConnection], Awaitable[T]],
        conn: AsyncConnection | None,
    ) -> T:
        """Single flight: when a cold cache meets a burst, one query fills it and the
        rest of the burst waits for that answer instead of asking too.

        A caller inside a transaction passes its connection and must never wait for a
        second pooled one: when every pooled connection is held by such callers (on
        SQLite all but one of them queued behind the write lock) it never comes, and the
        burst deadlocks until the pool and busy timeouts. So it reads through its own
        connection, and joins only a flight that already has a connection of its own."""
        flight = self._loading.get((kind, key))
        if flight is not None and (conn is None or flight.connected):
            try:
                return cast(T, await asyncio.shield(flight.future))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise
                return await self._read(load, conn)  # the leader was cancelled, not us
        if flight is not None:
            return await self._read(load, conn)  # that flight may be waiting for the pool
        flight = _Flight(asyncio.get_running_loop().create_future(), conn is not None)
        self._loading[(kind, key)] = flight
        try:
            value = await self._read(load, conn)
        except BaseException as exc:
            flight.future.set_exception(exc)
            flight.future.exception()  # consumed here; waiters re-raise it
            raise
        else:
            flight.future.set_result(value)
            return value
        finally:
            del self._loading[(kind, key)]

    async def _read(
        self, load: Callable[[AsyncConnection], Awaitable[T]], conn: AsyncConnection | None
    ) -> T:
        if conn is not None:
            return await load(conn)
        async with self.engine.connect() as own:
            return await load(own)

    # -- reads --------------------------------------------------------------------------
    # `conn`: the caller's open connection, for callers inside a transaction (see
    # `_once`). What is read through it is cached, so its transaction must not have
    # changed the catalog rows it reads.
    async def venue(
        self, venue_id: str, *, conn: AsyncConnection | None = None
    ) -> tuple[Venue, VenueKeys] | None:
        if venue_id in self._venues:
            return self._venues[venue_id]
        return await self._once("venue", venue_id, lambda c: self._load_venue(c, venue_id), conn)

    async def _load_venue(
        self, conn: AsyncConnection, venue_id: str
    ) -> tuple[Venue, VenueKeys] | None:
        row = (await conn.execute(select(VenueRow).where(VenueRow.id == venue_id))).first()
        value = None
        if row is not None:
            value = (
                Venue(id=row.id, name=row.name, timezone=row.timezone),
                _keys(row.signing_key_id, row.signing_private_key, row.signing_public_key),
            )
        self._venues[venue_id] = value
        return value

    async def tz(self, venue_id: str, *, conn: AsyncConnection | None = None) -> ZoneInfo:
        found = await self.venue(venue_id, conn=conn)
        return ZoneInfo(found[0].timezone if found else "Asia/Shanghai")

    async def product(
        self, product_id: str, *, conn: AsyncConnection | None = None
    ) -> Product | None:
        if product_id in self._products:
            return self._products[product_id]
        return await self._once(
            "product", product_id, lambda c: self._load_product(c, product_id), conn
        )

    async def _load_product(self, conn: AsyncConnection, product_id: str) -> Product | None:
        stmt = select(ProductRow.doc).where(ProductRow.id == product_id)
        doc = (await conn.execute(stmt)).scalar()
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
        return await self._once("allotments", pool, lambda c: self._load_allotments(c, pool), None)

    async def _load_allotments(self, conn: AsyncConnection, pool: str) -> dict[str, Allotment]:
        stmt = (
            select(InventoryRow.bucket, InventoryRow.fallback)
            .where(InventoryRow.pool == pool, InventoryRow.bucket != "")
            .distinct()
        )
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
