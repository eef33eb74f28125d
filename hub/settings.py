"""Configuration, from the environment (``TICKETHUB_*``) or a ``.env`` file."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETHUB_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/tickethub.db",
        description="sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    host: str = "127.0.0.1"
    port: int = 8700
    admin_token: str = Field(default="dev-admin-token", description="Bearer token of the admin API")
    boxoffice_token: str = Field(
        default="dev-boxoffice-token", description="box-office staff token"
    )
    channel_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-channel settings (JSON), by channel name"
    )
    blocked_plugins: list[str] = Field(default_factory=list, description="entry-point names")
    channel_specs_dirs: list[str] = Field(
        default_factory=list,
        description="folders of extra channel specs: each spec no plugin claims becomes a "
        "spec-only channel (hub.channels.generic)",
    )
    hold_ttl_seconds: int = Field(default=900, ge=5, description="how long a hold keeps stock")
    expiry_sweep_seconds: float = Field(default=1.0, gt=0)
    id_hash_secret: str = Field(default="tickethub-id-key", description="keys per-ID counters")
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
    # venue bridges: venue id -> the bearer token its hardware_bridge presents
    bridge_tokens: dict[str, str] = Field(
        default_factory=dict, description="per-venue bridge tokens (JSON), by venue id"
    )
    # enrolled face photos (hub.faces): encrypted at rest, deleted after the visit
    face_key: str = Field(
        default="",
        description="base64 AES key (16/24/32 bytes) for face photos at rest; empty: derived "
        "from id_hash_secret (set your own in production)",
    )
    face_max_bytes: int = Field(default=200 * 1024, ge=1024, le=1_000_000)
    face_purge_seconds: float = Field(default=300.0, gt=0, description="after-visit sweep")
    # request limits
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # TEST ONLY: turns the atomic capacity check into a read-then-write, so the oversell
    # control test can show that the concurrency tests catch a broken inventory.
    unsafe_inventory: bool = False
