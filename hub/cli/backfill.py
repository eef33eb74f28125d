"""``tickethub backfill``: enter a sheet of paper tickets sold during a total outage.

Reads a CSV (``paper_no,used_at,gate``; ``used_at`` ISO with offset, empty = not used)
and posts it to the hub's admin API, which is idempotent per paper number: a sheet
entered twice creates nothing twice."""

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


def backfill(
    sheet: Annotated[Path, typer.Argument(help="CSV: paper_no,used_at,gate", exists=True)],
    venue: Annotated[str, typer.Option(help="venue id")],
    product: Annotated[str, typer.Option(help="the product the paper tickets were sold as")],
    travel_date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    staff: Annotated[str, typer.Option(help="who enters the sheet")],
    note: Annotated[str, typer.Option(help="why / which outage")] = "",
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
    tickets: list[dict[str, Any]] = []
    with sheet.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            item: dict[str, Any] = {"paper_no": row["paper_no"].strip()}
            if (row.get("used_at") or "").strip():
                item["used_at"] = row["used_at"].strip()
            if (row.get("gate") or "").strip():
                item["gate"] = row["gate"].strip()
            tickets.append(item)
    body = {
        "venue_id": venue,
        "product_id": product,
        "travel_date": travel_date,
        "staff": staff,
        "note": note,
        "tickets": tickets,
    }

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


def _why(exc: BaseException) -> str:
    """The operating system's words for a failed connection ("Connection refused")."""
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    return str(exc) or type(exc).__name__
