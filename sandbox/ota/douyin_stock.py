"""The sandbox Douyin pulling price and stock ("批量拉取价格库存"), as Douyin does: by
default every 4 hours (plus after a failed ``can_buy`` and on the merchant's button); the
period is a parameter so a benchmark can pull often. What each pull showed is recorded
in a `StockBook` with its receive time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sandbox.ota.douyin import DouyinClient
from sandbox.ota.stock_book import StockBook

DEFAULT_EVERY_SECONDS = 4 * 3600.0


@dataclass
class DouyinStockPuller:
    client: DouyinClient
    products: Sequence[str]
    first: date
    days: int = 1
    every_seconds: float = DEFAULT_EVERY_SECONDS
    book: StockBook = field(default_factory=StockBook)
    failures: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def pull_once(self) -> None:
        last = self.first + timedelta(days=self.days - 1)
        for product in self.products:
            reply = await self.client.call(
                "stock_calendar",
                {
                    "account_id": "sandbox",
                    "product_id": f"dy-{product}",
                    "product_out_id": product,
                    "start_date": self.first.isoformat(),
                    "end_date": last.isoformat(),
                    "ticket_specifications": [{"sku_id": f"dy-{product}", "sku_out_id": ""}],
                },
            )
            if not reply.ok:
                self.failures.append(f"{product}: {reply.code} {reply.description}")
                continue
            for sku in reply.data.get("ticket_sku_and_calendar") or []:
                self.book.record(
                    product,
                    [
                        (str(e["calendar_value"]["start_date"]), "", int(e["stock"]))
                        for e in sku.get("calendar_list") or []
                    ],
                )

    async def _loop(self) -> None:
        while True:
            try:
                await self.pull_once()
            except Exception as exc:  # the hub is unreachable: Douyin pulls again later
                self.failures.append(repr(exc))
            await asyncio.sleep(self.every_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
