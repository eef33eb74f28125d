"""The ``[settlement]`` table of a channel spec: the partner's settlement file.

How an OTA portal exports its statement (对账单/结算单) — formats, encodings, header row,
which column says what — is read only by reconciliation (`hub.reconcile.settlement`), not
by the order path, so it is its own module; `ChannelSpec` in `hub.channels.spec` holds it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hub.channels.spec_base import SpecTable

SettlementField = Literal[
    "partner_order_id",
    "supplier_order_id",
    "day",
    "travel_date",
    "product",
    "quantity",
    "used_quantity",
    "refunded_quantity",
    "amount",
    "settlement_amount",
    "commission",
    "state",
    "merchant",
]
"""What a settlement line can say. ``day`` is the day the line belongs to (the statement's
day: order or settlement date); ``amount`` what the partner charged for the order (the
hub's order amount); ``merchant`` our supplier / partner id at the OTA."""

SettlementState = Literal["paid", "refunded", "used"]
SETTLEMENT_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")


class SettlementColumn(SpecTable):
    header: str = Field(min_length=1, description="the column's title in the header row")
    required: bool = Field(default=True, description="false: the column may be absent")


class Settlement(SpecTable):
    """The partner's settlement file (对账单/结算单) as its portal exports it: what the
    hub's reconciliation reads (`hub.reconcile.settlement`)."""

    formats: list[Literal["csv", "xlsx"]] = Field(default=["csv"], min_length=1)
    encodings: list[Literal[SETTLEMENT_ENCODINGS]] = Field(  # type: ignore[valid-type]
        default=["utf-8-sig"], min_length=1, description="CSV: tried in this order"
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1, le=50, description="1-based; rows above: title")
    sheet: str | None = Field(default=None, description="XLSX sheet name (default: the first)")
    date_formats: list[str] = Field(default=["%Y-%m-%d"], min_length=1, description="strptime")
    amount_unit: Literal["fen", "yuan"] = "yuan"
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone of the day column")
    merchant_setting: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="NAME of the setting every line's merchant column must equal",
    )
    footer_label: str | None = Field(
        default=None,
        description="first cell of the closing total row; when set, a file without it is "
        "refused as truncated",
    )
    columns: dict[SettlementField, SettlementColumn]
    states: dict[str, SettlementState] = Field(
        default_factory=dict, description="the partner's state word -> paid/refunded/used"
    )

    @model_validator(mode="after")
    def _needs(self) -> Settlement:
        for must in ("partner_order_id", "amount", "day"):
            col = self.columns.get(must)  # type: ignore[call-overload]
            if col is None or not col.required:
                raise ValueError(f"columns.{must}: required (a line is matched by it)")
        if "state" in self.columns and not self.states:
            raise ValueError("states: a state column needs its words mapped")
        if "merchant" in self.columns and not self.merchant_setting:
            raise ValueError("merchant_setting: a merchant column is checked against it")
        return self
