"""``tickethub bridge …`` (run the edge agent, show its state) and ``tickethub device …``
(onboard, list, remove devices on a RUNNING bridge, through its admin API, so nothing
restarts)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import aiohttp
import typer

from hardware_bridge.settings import BridgeSettings
from hub.sdk.runtime import ConfigError

bridge_app = typer.Typer(no_args_is_help=True, help="The venue bridge (edge agent).")
device_app = typer.Typer(no_args_is_help=True, help="Devices of a running venue bridge.")

BridgeUrl = Annotated[str, typer.Option(help="the bridge's URL (default from settings)")]


def _url(url: str | None) -> str:
    if url:
        return url.rstrip("/")
    s = BridgeSettings()
    return f"http://{s.host}:{s.port}"


@bridge_app.callback()
def _bridge_group() -> None:
    """The venue bridge (edge agent)."""


@device_app.callback()
def _device_group() -> None:
    """Devices of a running venue bridge."""


@bridge_app.command("run")
def run(
    hub_url: Annotated[
        list[str] | None,
        typer.Option(
            metavar="URL",
            help="hub URL; repeat it or separate with commas for a backup link, in order "
            "of preference (overrides TICKETHUB_BRIDGE_HUB_URLS / _HUB_URL)",
        ),
    ] = None,
    venue: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_VENUE_ID")] = None,
    token: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_TOKEN")] = None,
    db: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_DB_PATH")] = None,
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    bridge_id: Annotated[str | None, typer.Option(help="this bridge's id")] = None,
    log_level: Annotated[str, typer.Option(help="logging level")] = "INFO",
) -> None:
    """Run the venue bridge: decide at the gates, log, sync with the hub."""
    from hardware_bridge.app import create_app
    from hub.sdk.runtime import run_async, serve_until_signalled, setup_logging

    setup_logging(log_level)
    urls = split_urls(hub_url)
    given = {
        "hub_urls": urls or None,
        "venue_id": venue,
        "token": token,
        "db_path": db,
        "host": host,
        "port": port,
        "bridge_id": bridge_id,
    }
    settings = BridgeSettings(**{k: v for k, v in given.items() if v is not None})
    if not settings.venue_id:
        raise typer.BadParameter("a venue is required (--venue or TICKETHUB_BRIDGE_VENUE_ID)")

    def started() -> None:
        logging.getLogger("hardware_bridge").info(
            "bridge %s serving on http://%s:%s", settings.bridge_id, settings.host, settings.port
        )

    async def main() -> None:
        app = await create_app(settings)
        await serve_until_signalled(app, settings.host, settings.port, started=started)

    # A default secret raises DefaultSecretsError (a ConfigError) before anything is
    # opened; the command group prints it as one line.
    run_async(main())


def split_urls(given: list[str] | None) -> list[str]:
    """``--hub-url`` values: the option repeated, each possibly comma-separated."""
    return [u.strip() for item in given or [] for u in item.split(",") if u.strip()]


def _store_path(db: str | None) -> Path:
    return Path(db or BridgeSettings().db_path)


@bridge_app.command("backup")
def backup(
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="the backup file to write")],
    db: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_DB_PATH")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
) -> None:
    """Back up the bridge's store (tickets, keys, decision log, devices) to DEST —
    consistent while the bridge runs (SQLite's online backup API), checked before kept."""
    from hardware_bridge.backup import STORE
    from hub.sdk.runtime import fail
    from hub.sdk.sqlite_backup import BackupError
    from hub.sdk.sqlite_backup import backup as copy

    source = _store_path(db)
    try:
        report = copy(source, dest, STORE, force=force)
    except BackupError as exc:
        raise fail(f"refused: {exc}", 1) from exc
    typer.echo(f"backed up {source} → {dest} ({report.bytes} bytes): {report.summary()}")


@bridge_app.command("restore")
def restore(
    backup_file: Annotated[
        Path, typer.Argument(metavar="BACKUP", help="a file `tickethub bridge backup` wrote")
    ],
    db: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_DB_PATH")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace a store that holds data (bridge stopped)")
    ] = False,
) -> None:
    """Restore the bridge's store from BACKUP: checked first (integrity, store version);
    a store in use by a running bridge is never replaced, one with data only with --force."""
    from hardware_bridge.backup import STORE
    from hub.sdk.runtime import fail
    from hub.sdk.sqlite_backup import BackupError
    from hub.sdk.sqlite_backup import restore as put_back

    target = _store_path(db)
    try:
        report = put_back(backup_file, target, STORE, force=force)
    except BackupError as exc:
        raise fail(f"refused: {exc}", 1) from exc
    typer.echo(f"restored {backup_file} → {target}: {report.summary()}")
    typer.echo("start the bridge on it: tickethub bridge run (it syncs on from its cursor)")


async def _call(method: str, url: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
    """One admin call; a bridge that does not answer is a `ConfigError` (one line, see
    `hub.cli.errors`), not a traceback."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http,
            http.request(method, url, headers=headers, **kw) as resp,
        ):
            return resp.status, await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        raise ConfigError(
            f"cannot reach the bridge at {base} ({_why(exc)}); is it running, is --url right?"
        ) from None
    except ValueError:
        raise ConfigError(f"{url} did not answer like a tickethub bridge") from None


def _why(exc: BaseException) -> str:
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    return str(exc) or type(exc).__name__


def _admin_token(token: str | None) -> str:
    return token or BridgeSettings().admin_token


def _print(status: int, body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
    if status >= 300:
        raise typer.Exit(1)


@bridge_app.command("status")
def status(url: BridgeUrl = "") -> None:
    """Online/offline, the hub URL in use and each URL's last success and failure, last
    sync, unsynced decisions, device health."""
    _print(*asyncio.run(_call("GET", _url(url) + "/status")))


@bridge_app.command("admit")
def admit(
    reason: Annotated[str, typer.Option(help="why they were let in without a ticket")],
    staff: Annotated[str, typer.Option(help="who let them in")],
    count: Annotated[int, typer.Option(min=1, max=500, help="people let in together")] = 1,
    gate: Annotated[str, typer.Option(help="the gate they went through")] = "",
    url: BridgeUrl = "",
    token: Annotated[str | None, typer.Option(help="bridge admin token")] = None,
) -> None:
    """Record a manual admission without a ticket (who, why, how many) on a RUNNING
    bridge: counted in the in-park figure and uploaded to the hub like any gate's
    decision (kind ``manual``), now or when the link returns."""
    if not reason.strip() or not staff.strip():
        raise typer.BadParameter("--reason and --staff must not be empty")
    body = {"staff": staff.strip(), "reason": reason.strip(), "gate": gate, "count": count}
    code, answer = asyncio.run(
        _call("POST", _url(url) + "/admin/manual", _admin_token(token), json=body)
    )
    if code != 201:
        _print(code, answer)
    where = "offline: uploaded when the hub is reachable" if answer.get("offline") else "online"
    typer.echo(f"admitted {answer['count']} by {staff.strip()} ({reason.strip()}); {where}")
    for i in answer["ids"]:
        typer.echo(f"  {i}")


@device_app.command("add")
def add(
    vendor: Annotated[str, typer.Argument(help="driver: qrhttp, uhppote, hikvision, zkteco…")],
    address: Annotated[str, typer.Option(help="host[:port] or URL of the device")] = "",
    gate: Annotated[str, typer.Option(help="the gate it serves")] = "",
    device_id: Annotated[
        str | None,
        typer.Option("--id", help="device id (default: VENDOR-SERIAL as the device reports it)"),
    ] = None,
    serial: Annotated[str, typer.Option(help="expected serial (checked against the device)")] = "",
    option: Annotated[list[str] | None, typer.Option(help="vendor option k=v (repeatable)")] = None,
    url: BridgeUrl = "",
    token: Annotated[str | None, typer.Option(help="bridge admin token")] = None,
) -> None:
    """Onboard a device: connection test, serial read, duplicate refused, configured,
    credentials pushed."""
    options: dict[str, Any] = {}
    for item in option or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise typer.BadParameter(f"--option {item!r}: expected k=v")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    body = {
        "id": device_id or "",  # the bridge names it after the serial the device reports
        "vendor": vendor,
        "address": address,
        "gate": gate,
        "serial": serial,
        "options": options,
    }
    _print(
        *asyncio.run(_call("POST", _url(url) + "/admin/devices", _admin_token(token), json=body))
    )


@device_app.command("discover")
def discover(
    vendor: Annotated[str, typer.Argument(help="driver whose protocol has discovery: uhppote")],
    timeout: Annotated[float, typer.Option(help="seconds to wait for answers")] = 1.0,
    url: BridgeUrl = "",
    token: Annotated[str | None, typer.Option(help="bridge admin token")] = None,
) -> None:
    """Find devices on the LAN (UHPPOTE broadcast) and show which are not onboarded yet."""
    status_code, body = asyncio.run(
        _call(
            "GET",
            _url(url) + "/admin/devices/discover",
            _admin_token(token),
            params={"vendor": vendor, "timeout": str(timeout)},
        )
    )
    if status_code != 200:
        _print(status_code, body)
    if not body["devices"]:
        typer.echo(f"no {vendor} device answered within {timeout} s")
    for d in body["devices"]:
        where = f"onboarded as {d['onboarded_as']}" if d["onboarded_as"] else "NEW"
        typer.echo(
            f"{d['serial']:<14} {d['address']:<22} {d['model']:<16} {d['firmware']:<8} {where}"
        )
        if not d["onboarded_as"]:
            typer.echo(
                f"    tickethub device add {vendor} --address {d['address']} "
                f"--serial {d['serial']} --gate <gate>"
            )


@device_app.command("list")
def list_devices(
    url: BridgeUrl = "",
    token: Annotated[str | None, typer.Option(help="bridge admin token")] = None,
) -> None:
    """Devices with their health: last seen, event lag, list version."""
    status_code, body = asyncio.run(_call("GET", _url(url) + "/admin/devices", _admin_token(token)))
    if status_code != 200:
        _print(status_code, body)
    _, bridge = asyncio.run(_call("GET", _url(url) + "/status"))
    typer.echo(
        f"bridge {bridge['bridge']} (venue {bridge['venue']}): {bridge['mode'].upper()}, "
        f"last sync {bridge['last_sync'] or 'never'}, unsynced {bridge['log']['unsynced']}"
    )
    for d in body["devices"]:
        h = d["health"]
        typer.echo(
            f"{d['id']:<20} {d['vendor']:<10} serial={d['serial']:<14} gate={d['gate']:<10} "
            f"last_seen={h['last_seen'] or '-'} lag={h['event_lag_s']} "
            f"list={h['list_version'] or '-'} pushed={h['pushed']}"
            + (f" push_error={h['push_error']}" if h["push_error"] else "")
        )


@device_app.command("remove")
def remove(
    device_id: Annotated[str, typer.Argument()],
    url: BridgeUrl = "",
    token: Annotated[str | None, typer.Option(help="bridge admin token")] = None,
) -> None:
    """Detach and forget a device (no restart)."""
    _print(
        *asyncio.run(
            _call("DELETE", _url(url) + f"/admin/devices/{device_id}", _admin_token(token))
        )
    )


@bridge_app.command("count")
def count(
    set_: Annotated[
        int | None,
        typer.Option("--set", min=0, help="visitors inside now, as staff counted them"),
    ] = None,
    db: Annotated[str | None, typer.Option(help="overrides TICKETHUB_BRIDGE_DB_PATH")] = None,
) -> None:
    """The in-park ceiling at this bridge (`hardware_bridge.ceiling`): show it, or correct
    the count with ``--set N`` (until the hub's next answer; the venue-wide correction is
    ``PUT /api/admin/venues/{id}/in-park``). Works on the store, so also while the hub and
    the bridge's own web room are down."""
    from hardware_bridge.ceiling import Ceiling
    from hardware_bridge.store import BridgeStore

    store = BridgeStore(_store_path(db))
    try:
        ceiling = Ceiling(store)
        state = ceiling.set_count(set_) if set_ is not None else ceiling.status()
    finally:
        store.close()
    typer.echo(json.dumps(state, indent=2, ensure_ascii=False))
