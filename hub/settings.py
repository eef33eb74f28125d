"""Configuration, from the environment (``TICKETHUB_*``) or a ``.env`` file."""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from hub.config import ClearSettings

if TYPE_CHECKING:
    from hub.storage.sealed import IdNumbers


class Settings(ClearSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETHUB_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/tickethub.db",
        description="sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=500,
        description="database connections per hub process (PostgreSQL may open as many again "
        "under load); N processes x 2 x this must fit the server's max_connections",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="load balancers whose X-Forwarded-For is believed (addresses or CIDR "
        'networks, JSON list: ["127.0.0.1", "10.0.0.0/8"]); empty: the peer is the client',
    )
    host: str = "127.0.0.1"
    port: int = 8700
    # logs: "text" (one line per record) or "json" (one object per line, for collectors);
    # both masked (hub.logmask) and carrying the request id of the request they belong to
    log_format: Literal["text", "json"] = "text"
    access_log: bool = Field(default=True, description="one line per HTTP request (hub.access)")
    metrics_db_seconds: float = Field(
        default=5.0, ge=0, description="how long /metrics reuses the gauges it read from the DB"
    )
    admin_token: str = Field(default="dev-admin-token", description="Bearer token of the admin API")
    boxoffice_token: str = Field(
        default="dev-boxoffice-token", description="box-office staff token"
    )
    channel_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-channel settings (JSON), by channel name"
    )
    blocked_plugins: list[str] = Field(default_factory=list, description="entry-point names")
    strict_plugins: bool = Field(
        default=False,
        description="a broken third-party plugin stops the start instead of being left out",
    )
    channel_specs_dirs: list[str] = Field(
        default_factory=list,
        description="folders of extra channel specs: each spec no plugin claims becomes a "
        "spec-only channel (hub.channels.generic)",
    )
    hold_ttl_seconds: int = Field(default=900, ge=5, description="how long a hold keeps stock")
    expiry_sweep_seconds: float = Field(default=1.0, gt=0)
    emergency_giveback_seconds: float = Field(
        default=300.0,
        ge=0,
        description="seconds between give-backs of the unsold units of ended slots' "
        "emergency allotments (0 = only on staff's request)",
    )
    id_hash_secret: str = Field(
        default="tickethub-id-key",
        description="HMAC key of ID numbers: per-ID counters and lookups by ID number",
    )
    # ID numbers of visitors and ticket holders: encrypted at rest (hub.storage.sealed)
    id_number_key: str = Field(
        default="",
        description="base64 AES key (16/24/32 bytes) for ID numbers at rest; empty: derived "
        "from id_hash_secret (development only)",
    )
    # group commit: orders arriving together share one transaction and one fsync
    gil_switch_interval: float = Field(default=0.0005, gt=0, le=0.1, description="seconds")
    batch_max: int = Field(default=128, ge=1, le=2000)
    writer_thread: bool = Field(
        default=True,
        description="order transactions on a thread and event loop of their own (one extra "
        "database connection), not on the request loop",
    )
    order_queue_max: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="orders waiting for the writer before new ones are shed with 503 + "
        "Retry-After; default 2 x batch_max",
    )
    # outbox
    outbox_workers: int = Field(default=1, ge=0, le=64)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    # threshold alerts (hub.alerts): where messages go, and how often rules are evaluated
    alert_destinations: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='alert destinations (JSON): name -> {"sink": "wecom|dingtalk|feishu|'
        'webhook|mail", ...sink options}',
    )
    alert_eval_seconds: float = Field(
        default=15.0, ge=0, le=3600, description="rule evaluation period; 0 turns it off"
    )
    # the daily reconciliation: yesterday's WeChat bill fetched, imported and matched
    reconcile_every_seconds: float = Field(
        default=300.0, ge=0, le=86_400, description="how often it looks; 0 turns it off"
    )
    reconcile_run_after: time = Field(
        default=time(10), description="local time from which yesterday's bill is fetched"
    )
    reconcile_timezone: str = Field(
        default="Asia/Shanghai", description="the zone of run_after and of the bill's day"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("reconcile_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    # stock push (hub.stockpush): how often committed stock changes are drained
    stock_push_seconds: float = Field(
        default=0.1, gt=0, le=60, description="stock-push drain period (also woken by pushes)"
    )
    # the flow wall's live stream (`hub.wall.stream`)
    wall_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="how often each process checks a watched venue's counters for changes "
        "written by other hub processes",
    )
    wall_min_interval_seconds: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="least time between two snapshots of a venue's wall (bursts coalesce)",
    )
    # venue bridges: venue id -> the bearer token its hardware_bridge presents
    bridge_tokens: dict[str, str] = Field(
        default_factory=dict, description="per-venue bridge tokens (JSON), by venue id"
    )
    # enrolled face photos (hub.faces): encrypted at rest, deleted after the visit
    face_key: str = Field(
        default="",
        description="base64 AES key (16/24/32 bytes) for face photos at rest; empty: derived "
        "from id_hash_secret (development only)",
    )
    face_max_bytes: int = Field(default=200 * 1024, ge=1024, le=1_000_000)
    face_purge_seconds: float = Field(default=300.0, gt=0, description="after-visit sweep")
    # the staff console (hub.console): session cookie and login throttling
    console_session_key: str = Field(
        default="",
        description="base64 of 32 bytes: the key of the console's encrypted session cookie; "
        "empty: derived from id_hash_secret (development only)",
    )
    console_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="a console sign-in lasts this long"
    )
    console_secure_cookie: bool = Field(
        default=False, description="send the console cookie over HTTPS only (behind TLS)"
    )
    console_login_max_failures: int = Field(default=5, ge=1, le=1000)
    console_login_window_seconds: float = Field(default=900.0, gt=0)
    console_login_block_seconds: float = Field(default=900.0, gt=0)
    # request limits
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # TEST ONLY: turns the atomic capacity check into a read-then-write, so the oversell
    # control test can show that the concurrency tests catch a broken inventory.
    unsafe_inventory: bool = False

    def id_numbers(self) -> IdNumbers:
        """How ID numbers are stored: sealed with ``id_number_key``, hashed with
        ``id_hash_secret``.

        :raises hub.storage.sealed.SealKeyError: ``TICKETHUB_ID_NUMBER_KEY`` is unusable.
        """
        from hub.storage.sealed import IdNumbers

        return IdNumbers.from_settings(self.id_number_key, self.id_hash_secret)

    def default_secrets(self) -> list[str]:
        """Environment variables of the secrets still at their development default (see
        `hub.devmode`): the public defaults, or a key left to be derived from them."""
        return [
            f"TICKETHUB_{name.upper()}"
            for name in SECRETS
            if getattr(self, name) in ("", type(self).model_fields[name].default)
        ]


# Settings a deployment must set itself (outside TICKETHUB_DEV=1 the hub refuses to start
# while any of them holds its default). The two keys are required even though they could
# be derived from id_hash_secret: changing that secret would then silently make every
# stored photo and ID number unreadable.
SECRETS = (
    "admin_token",
    "boxoffice_token",
    "id_hash_secret",
    "face_key",
    "id_number_key",
    "console_session_key",
)
