"""Bridge configuration, from the environment (``TICKETHUB_BRIDGE_*``) or a ``.env`` file."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from hub.config import ClearSettings


class BridgeSettings(ClearSettings):
    model_config = SettingsConfigDict(
        env_prefix="TICKETHUB_BRIDGE_", env_file=".env", extra="ignore"
    )

    hub_url: str = Field(default="http://127.0.0.1:8700", description="the hub's base URL")
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
    sync_interval: float = Field(default=2.0, gt=0, description="seconds between sync rounds")
    sync_batch: int = Field(default=1000, ge=1, le=1000, description="decisions per upload")
    synchronous: str = Field(
        default="FULL",
        pattern=r"^(FULL|NORMAL)$",
        description="SQLite synchronous of the log: FULL survives power loss",
    )
    blocked_plugins: list[str] = Field(default_factory=list)

    def default_secrets(self) -> list[str]:
        """Environment variables of the secrets still at their development default (see
        `hub.devmode`)."""
        default = type(self).model_fields["admin_token"].default
        return ["TICKETHUB_BRIDGE_ADMIN_TOKEN"] if self.admin_token in ("", default) else []
