"""``tickethub backfill``: enter a sheet of paper tickets sold during a total outage.

Reads a CSV (``paper_no,used_at,gate[,product,slot,price]``; ``used_at`` ISO with offset,
empty = not used; ``product``/``slot`` empty = the sheet's ``--product``/``--slot``;
``price`` in yuan as written on the ticket, empty = ``--price`` or the product's price)
and posts it to the hub's admin API, which is idempotent per paper number: a sheet
entered twice creates nothing twice. Paper tickets are sales: they take stock (accepted
over capacity, flagged) and appear in the day report as channel ``paper``."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import typer

from hub.config import ConfigError
from hub.reconcile.money import fen_of


def backfill(
    sheet: Annotated[Path, typer.Argument(help="CSV: paper_no,used_at,gate", exists=True)],
    venue: Annotated[str, typer.Option(help="venue id")],
    product: Annotated[str, typer.Option(help="the product the paper tickets were sold as")],
    travel_date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    staff: Annotated[str, typer.Option(help="who enters the sheet")],
    note: Annotated[str, typer.Option(help="why / which outage")] = "",
    slot: Annotated[str, typer.Option(help="the tickets' slot, e.g. 09:00-11:00")] = "",
    price: Annotated[
        str | None, typer.Option(help="yuan, e.g. 80.00 (default: the product's price)")
    ] = None,
    hub_url: Annotated[str, typer.Option(help="the hub")] = "http://127.0.0.1:8700",
    token: Annotated[str | None, typer.Option(help="admin token (TICKETHUB_ADMIN_TOKEN)")] = None,
) -> None:
    """Enter paper tickets sold during an outage; their second use is refused."""
    from hub.settings import Settings

    try:
        date.fromisoformat(travel_date)
    except ValueError:
        raise typer.BadParameter(
            f"{travel_date!r} is not YYYY-MM-DD", param_hint="--date"
        ) from None
    tickets = _read_sheet(sheet)
    body: dict[str, Any] = {
        "venue_id": venue,
        "product_id": product,
        "travel_date": travel_date,
        "slot": slot,
        "staff": staff,
        "note": note,
        "tickets": tickets,
    }
    if price is not None:
        body["price"] = _fen(price, "--price")

    async def post() -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or Settings().admin_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                hub_url.rstrip("/") + "/api/admin/backfill", json=body, headers=headers
            ) as resp,
        ):
            return resp.status, await resp.json(content_type=None)

    try:
        status, answer = asyncio.run(post())
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise ConfigError(
            f"cannot reach the hub at {hub_url} ({_why(exc)}); is it running, is --hub-url right?"
        ) from None
    except aiohttp.ContentTypeError:
        raise ConfigError(f"{hub_url} did not answer like a tickethub hub") from None
    typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    if status != 200:
        raise typer.Exit(1)


def _fen(text: str, where: str) -> int:
    try:
        return fen_of(text.strip())
    except ValueError as exc:
        raise ConfigError(f"{where}: price {text!r} is not yuan like 80.00 ({exc})") from None


def _read_sheet(sheet: Path) -> list[dict[str, Any]]:
    """The sheet's rows as API tickets; a bad row stops it, naming its line."""
    tickets: list[dict[str, Any]] = []
    try:
        with sheet.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if "paper_no" not in (reader.fieldnames or []):
                raise ConfigError(f"{sheet.name} line 1: no paper_no column")
            for row in reader:
                line = f"{sheet.name} line {reader.line_num}"
                item: dict[str, Any] = {"paper_no": (row["paper_no"] or "").strip()}
                named = (("used_at", "used_at"), ("gate", "gate"), ("product", "product_id"))
                for col, key in named:
                    if (row.get(col) or "").strip():
                        item[key] = row[col].strip()
                if row.get("slot") is not None and row["slot"].strip():
                    item["slot"] = row["slot"].strip()
                if (row.get("price") or "").strip():
                    item["price"] = _fen(row["price"], line)
                tickets.append(item)
    except UnicodeDecodeError:
        raise ConfigError(f"{sheet.name}: not UTF-8 text (save the sheet as UTF-8 CSV)") from None
    return tickets


def _why(exc: BaseException) -> str:
    """The operating system's words for a failed connection ("Connection refused")."""
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    return str(exc) or type(exc).__name__
