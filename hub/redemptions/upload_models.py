"""A bridge upload on the wire: what a venue bridge sends and what the hub answers.

The HTTP route (`hub.api.bridge`), the backfill import (`hub.redemptions.backfill`) and
the test rigs build and parse these without recording anything, so the models live apart
from the recorder (`hub.redemptions.uploads`), which is the transaction that counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_BATCH = 1000  # x 20 columns stays under SQLite's 32766 bound parameters


class RedemptionIn(BaseModel):
    """One decision as a bridge uploads it (`hardware_bridge` builds these)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    ticket_id: str = Field(default="", max_length=32)
    gate: str = Field(default="", max_length=64)
    device: str = Field(default="", max_length=64)
    medium: str = Field(default="qr", max_length=16)
    direction: str = Field(default="in", pattern=r"^(in|out)$")
    at: AwareDatetime
    device_at: AwareDatetime | None = None
    accepted: bool
    code: str = Field(default="", max_length=40)
    kind: str = Field(default="scan", pattern=r"^(scan|device|manual|backfill)$")
    offline: bool = False
    staff: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=200)
    part: str = Field(default="", max_length=64)  # the combo part the bridge took, if any


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bridge: str = Field(default="", max_length=64)
    redemptions: list[RedemptionIn] = Field(max_length=MAX_BATCH)


@dataclass(frozen=True, slots=True)
class UploadResult:
    recorded: int  # new rows
    duplicates: int  # ids already recorded (a retry)
    counted: int  # entries/exits that moved a ticket or the flow
    conflicts: list[str]  # ids of admissions that could not count

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "counted": self.counted,
            "conflicts": self.conflicts,
        }
