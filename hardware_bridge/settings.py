"""Bridge configuration, from the environment (``TICKETHUB_BRIDGE_*``) or a ``.env`` file."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from hub.sdk.runtime import ClearSettings


class BridgeSettings(ClearSettings):
    model_config = SettingsConfigDict(
        env_prefix="TICKETHUB_BRIDGE_", env_file=".env", extra="ignore"
    )

    hub_url: str = Field(default="http://127.0.0.1:8700", description="the hub's base URL")
    hub_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="hub URLs in order of preference, comma-separated (the venue line, "
        "then a 4G router…); when set, HUB_URL is ignored",
    )
    venue_id: str = Field(default="", description="the venue this bridge serves")
    token: str = Field(default="", description="the venue's bridge token (hub: BRIDGE_TOKENS)")
    bridge_id: str = Field(
        default="bridge-1",
        pattern=r"^[A-Za-z0-9_.\-]{1,24}$",
        description="prefix of this bridge's decision ids; unique per venue",
    )
    db_path: str = Field(default="var/bridge.db", description="the bridge's own SQLite file")
    host: str = "127.0.0.1"
    port: int = 8710
    admin_token: str = Field(default="dev-bridge-admin", description="staff token of /admin")
    handheld_pin: str = Field(
        default="",
        description="staff PIN of the handheld checking page /handheld/ (at least 6 "
        "characters; empty: the page is turned off). The bridge has no staff accounts: "
        "everyone who checks tickets on this bridge's LAN shares this PIN and gives a name",
    )
    sync_interval: float = Field(default=2.0, gt=0, description="seconds between sync rounds")
    heartbeat_interval: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="seconds between heartbeats while offline or on a backup URL: the "
        "longest an outage's end goes unnoticed",
    )
    heartbeat_timeout: float = Field(default=2.0, gt=0, le=30, description="per heartbeat")
    hub_timeout: float = Field(
        default=10.0, gt=0, description="per sync call; a silent link fails over after it"
    )
    failback_after: int = Field(
        default=2, ge=1, le=100, description="heartbeats in a row before failing back"
    )
    device_check_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="seconds between liveness checks of the devices whose driver can ask "
        "them (reported to the hub with the next sync round or heartbeat)",
    )
    sync_batch: int = Field(default=1000, ge=1, le=1000, description="decisions per upload")
    synchronous: str = Field(
        default="FULL",
        pattern=r"^(FULL|NORMAL)$",
        description="SQLite synchronous of the log: FULL survives power loss",
    )
    blocked_plugins: list[str] = Field(default_factory=list)
    boxoffice_pin: str = Field(
        default="",
        description="PIN of the emergency ticket-window page (/boxoffice); '' = the staff "
        "token (ADMIN_TOKEN). The bridge has no staff accounts: whoever knows it sells",
    )
    ticket_printer: str = Field(
        default="",
        pattern=r"^$|^[A-Za-z0-9_.\-]+(:\d{1,5})?$",
        description="host[:port] of a network ESC/POS printer for emergency tickets "
        "('' = none; port 9100 when not given)",
    )
    ticket_font: str = Field(
        default="", description="a CJK TrueType font for the printed ticket ('' = look for one)"
    )

    @field_validator("handheld_pin")
    @classmethod
    def _pin(cls, value: str) -> str:
        if value and len(value) < 6:
            raise ValueError("at least 6 characters (or empty: no handheld page)")
        return value

    @field_validator("hub_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [u.strip() for u in value.split(",") if u.strip()]
        return value

    @field_validator("hub_url", "hub_urls")
    @classmethod
    def _http_urls(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
        return value

    def urls(self) -> list[str]:
        """The hub URLs in order of preference (HUB_URLS, else the single HUB_URL),
        each once."""
        given = self.hub_urls or [self.hub_url]
        return list(dict.fromkeys(u.rstrip("/") for u in given))

    def default_secrets(self) -> list[str]:
        """Environment variables of the secrets still at their development default (see
        `hub.devmode`)."""
        default = type(self).model_fields["admin_token"].default
        return ["TICKETHUB_BRIDGE_ADMIN_TOKEN"] if self.admin_token in ("", default) else []
