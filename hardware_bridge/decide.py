"""The gate decision: which ticket was presented, and may it enter now.

Same code as the hub: `CredentialVerifier` for signed QR codes and the ONE `RuleEngine`
(built from the same plugin registry) over an `EntryContext`. What only the bridge knows
goes into that context: the entries this bridge admitted that the hub has not counted
yet, so one bridge never admits a ticket beyond ``entries_allowed`` even offline.

A signed QR verifies without the cache (a ticket sold after the last sync opens the gate
from its claims alone); a cached ticket adds what the claims cannot carry (revocation,
entries used at other bridges, the holder's ID number, the slot of a timed ticket).

Time is the BRIDGE's clock. The device's own time (`Scan.at`) is recorded next to it and
never used to refuse: a turnstile whose clock is hours off must not lock visitors out.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from hardware_bridge.ceiling import Ceiling
from hardware_bridge.combo import part_key, part_view
from hardware_bridge.store import BridgeStore, LogEntry
from hub.domain import Product, Ticket, TicketState
from hub.domain.catalog import SlotInfo
from hub.domain.combo import Parts, dump_parts, load_parts, parts_for
from hub.domain.credentials import CredentialError, CredentialVerifier
from hub.domain.delegation import gate_verifier
from hub.domain.digits import card_number
from hub.domain.errors import Denial, DenialCode
from hub.domain.gate import Direction, GateDecision, Medium, Scan
from hub.domain.rules import RuleEngine
from hub.domain.rules.context import EntryContext
from hub.domain.rules.document import CompiledRules
from hub.domain.rules.engine import RuleEvaluationError

log = logging.getLogger(__name__)
WELCOME = "Welcome"
WHOLE_DAY = SlotInfo()  # no slot to keep to
UNKNOWN_DEVICE = "UNKNOWN_DEVICE"


@dataclass(frozen=True, slots=True)
class VenueView:
    """What the bridge knows of its venue (from the hub's bridge config)."""

    venue_id: str
    tz: ZoneInfo
    verifier: CredentialVerifier
    products: Mapping[str, Product]
    rules: Mapping[str, CompiledRules]
    gates: Mapping[str, str] = field(default_factory=dict)  # gate → attraction (combos)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        engine: RuleEngine,
        emergency: Mapping[str, Any] | None = None,
    ) -> VenueView:
        """`emergency` is the hub's emergency state (`hardware_bridge.boxoffice`): the
        bridge keys the venue certified and those it revoked, so credentials an
        emergency box office signed open this bridge's gates too."""
        products = {p["id"]: Product.model_validate(p) for p in config.get("products", [])}
        emergency = emergency or {}
        verifier, dropped = gate_verifier(
            {int(k["key_id"]): k["public_key"] for k in config.get("keys", [])},
            emergency.get("keys", []),
            emergency.get("revoked", []),
            venue_id=config["venue"]["id"],
        )
        for why in dropped:
            log.warning("bridge key not trusted: %s", why)
        return cls(
            venue_id=config["venue"]["id"],
            tz=ZoneInfo(config["venue"].get("timezone", "Asia/Shanghai")),
            verifier=verifier,
            products=products,
            rules={pid: engine.compile(p.rules) for pid, p in products.items()},
            gates={str(g): str(a) for g, a in (config.get("gates") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Found:
    ticket: Ticket
    credential_text: str = ""
    slot: SlotInfo = WHOLE_DAY  # the order's slot, from the sync
    parts: Parts | None = None  # a combo's entries per attraction (`hardware_bridge.combo`)


class Decider:
    def __init__(self, store: BridgeStore, engine: RuleEngine, bridge_id: str) -> None:
        self.store = store
        self.engine = engine
        self.bridge_id = bridge_id
        self.view: VenueView | None = None
        self._empty_rules = engine.compile({})
        self.ceiling = Ceiling(store)  # the in-park safety limit (`hardware_bridge.ceiling`)

    def new_id(self) -> str:
        return f"{self.bridge_id}-{uuid.uuid4().hex}"

    def day(self, at: datetime) -> str:
        tz = self.view.tz if self.view else ZoneInfo("Asia/Shanghai")
        return at.astimezone(tz).date().isoformat()

    # -- decide ----------------------------------------------------------------------------
    def decide(
        self, scan: Scan, now: datetime, *, offline: bool, known_device: bool
    ) -> GateDecision:
        """Decide and append to the log (durably) before returning."""
        ticket_id = ""
        found: Found | None = None
        if not known_device:
            denial: Denial | None = Denial(UNKNOWN_DEVICE, "Unknown device")
        elif self.view is None:
            denial = Denial(DenialCode.UNKNOWN_TICKET, "Bridge not set up yet")
        else:
            found, denial = self._find(scan, now)
            if found is not None:
                ticket_id = found.ticket.id
                if denial is None:
                    denial = self._check(found, scan, now)
        if denial is None and found is not None and scan.direction is Direction.IN:
            denial = self.ceiling.check()  # after the ticket: a bad ticket says so first
        allow = denial is None
        day = self.day(now)
        counted = allow and bool(ticket_id) and scan.direction is Direction.IN
        entry = LogEntry(
            id=self.new_id(),
            kind="scan",
            ticket_id=ticket_id,
            device=scan.device_id,
            gate=scan.gate,
            medium=scan.medium.value,
            direction=scan.direction.value,
            part=self._part(found, scan) if counted else "",
            allow=allow,
            code="" if denial is None else str(denial.code),
            reason=WELCOME if denial is None else denial.reason,
            at=now,
            device_at=scan.at,
            offline=offline,
        )
        self.store.append(entry, count_day=day if counted else None)
        entries_left = None
        if allow and found is not None:
            left = found.ticket.entries_allowed - self._used(ticket_id, day)[1]
            entries_left = max(0, left)
        return GateDecision(
            id=entry.id,
            allow=allow,
            code=entry.code,
            reason=entry.reason,
            ticket_id=ticket_id or None,
            entries_left=entries_left,
            offline=offline,
            decided_at=now,
        )

    def _used(self, ticket_id: str, day: str) -> tuple[int, int]:
        """(entries today at this bridge, entries known anywhere)."""
        row = self.store.ticket(ticket_id)
        hub_used = int(row["entries_used"]) if row else 0
        today, local_all, unsynced = self.store.entries(ticket_id, day)
        return today, max(local_all, hub_used + unsynced)

    def _check(self, found: Found, scan: Scan, now: datetime) -> Denial | None:
        ticket = found.ticket
        if scan.direction is Direction.OUT:
            return None  # leaving is never refused; it moves the in-park count
        assert self.view is not None
        if ticket.venue_id != self.view.venue_id:
            return Denial(DenialCode.WRONG_VENUE, "Ticket is for another venue")
        today, total = self._used(ticket.id, self.day(now))
        product = self.view.products.get(ticket.product_id)
        rules = self.view.rules.get(ticket.product_id, self._empty_rules)
        if found.parts is not None:  # a combo: the rules see this gate's part only
            view = part_view(
                self.store, ticket, found.parts, product, self.view.gates, scan.gate, self.day(now)
            )
            if isinstance(view, Denial):
                return view
            ticket, today, total = view.ticket, view.today, view.total
        ctx = EntryContext(
            ticket=ticket,
            product=product,
            now=now,
            tz=self.view.tz,
            slot=found.slot,
            gate=scan.gate,
            entries_today=today,
            entries_total=total,
        )
        try:
            return self.engine.evaluate_entry(rules, ctx).denial
        except RuleEvaluationError as exc:  # a broken rule must not open (or crash) the gate
            return Denial(DenialCode.RULE_DENIED, "Rule error; ask staff", {"error": str(exc)})

    def _part(self, found: Found | None, scan: Scan) -> str:
        if found is None or found.parts is None or self.view is None:
            return ""
        product = self.view.products.get(found.ticket.product_id)
        return part_key(product, found.parts, self.view.gates, scan.gate)

    # -- which ticket ----------------------------------------------------------------------
    def _find(self, scan: Scan, now: datetime) -> tuple[Found | None, Denial | None]:
        value = scan.value.strip()
        medium = scan.medium
        if medium is Medium.QR:
            if value.startswith("TH1."):
                return self._from_qr(value, now)
            row = self.store.ticket_by_credential(value)  # a legacy or paper code
            return self._row(row)
        if medium is Medium.ID_CARD:
            rows = self.store.tickets_of_holder(value.upper())
            if not rows:
                return None, Denial(DenialCode.UNKNOWN_TICKET, "No ticket for this ID")
            # the holder's ticket that can enter now, else the first refusal
            first: tuple[Found | None, Denial | None] | None = None
            for row in rows:
                found = self._found(row)
                denial = self._check(found, scan, now)
                if denial is None:
                    return found, None
                first = first or (found, denial)
            return first
        row = None
        card = card_number(value)
        if card is not None:
            row = self.store.ticket_by_card(card)
        elif medium is Medium.NFC:
            try:
                row = self.store.ticket_by_card(int(value.replace(":", ""), 16) & 0xFFFFFFFF)
            except ValueError:
                row = None
        if row is None and len(value) == 16:
            row = self.store.ticket(value.lower())
        return self._row(row)

    def _row(self, row: sqlite3.Row | None) -> tuple[Found | None, Denial | None]:
        if row is None:
            return None, Denial(DenialCode.UNKNOWN_TICKET, "Unknown ticket")
        return self._found(row), None

    def _from_qr(self, text: str, now: datetime) -> tuple[Found | None, Denial | None]:
        """The ticket of a signed QR: the cached one (with its slot) when synced, else the
        claims alone.

        A ticket the bridge never synced has NO slot: the QR layout (`CredentialClaims`)
        carries none, and the bridge cannot tell which slot a timed ticket was sold for.
        It is then checked against the claims' validity window only (the travel day, as
        signed), i.e. as a whole-day ticket. Refusing it instead would lock out every
        timed ticket sold during an outage, which is exactly when the signed QR must
        work; guessing a slot could refuse a visitor who came on time. The gap closes at
        the next sync: the cached row gets its slot and later scans keep to it.
        """
        assert self.view is not None
        try:
            claims = self.view.verifier.verify(text, now)  # now: bridge keys expire
        except CredentialError as exc:
            return None, Denial(DenialCode.BAD_CREDENTIAL, "Invalid code", {"why": str(exc)})
        row = self.store.ticket(claims.ticket_id)
        if row is not None:
            return Found(self._ticket(row), text, _slot(row), load_parts(row["parts"])), None
        # sold after the last sync: the signed claims are the ticket (a combo's parts
        # from its product, as the hub issues them)
        parts = parts_for(self.view.products.get(claims.product_id))
        self.store.ensure_ticket(
            {
                "id": claims.ticket_id,
                "product_id": claims.product_id,
                "valid_from": claims.valid_from.isoformat(),
                "valid_until": claims.valid_until.isoformat(),
                "entries_allowed": claims.entries_allowed,
                "credential": text,
                "parts": json.dumps(dump_parts(parts), sort_keys=True) if parts else "",
            }
        )
        ticket = Ticket(
            id=claims.ticket_id,
            order_id="",
            product_id=claims.product_id,
            venue_id=self.view.venue_id,
            valid_from=claims.valid_from,
            valid_until=claims.valid_until,
            entries_allowed=claims.entries_allowed,
        )
        return Found(ticket, text, parts=parts), None

    def _found(self, row: sqlite3.Row) -> Found:
        return Found(self._ticket(row), slot=_slot(row), parts=load_parts(row["parts"]))

    def _ticket(self, row: sqlite3.Row) -> Ticket:
        assert self.view is not None
        return Ticket.model_construct(
            id=row["id"],
            order_id=row["order_id"],
            product_id=row["product_id"],
            venue_id=self.view.venue_id,
            visitor_index=None,
            holder_id_number=row["holder_id"],
            valid_from=_dt(row["valid_from"]),
            valid_until=_dt(row["valid_until"]),
            entries_allowed=int(row["entries_allowed"]),
            entries_used=int(row["entries_used"]),
            units=int(row["units"]),
            state=TicketState(row["state"]),
            credential=row["credential"],
        )


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _slot(row: sqlite3.Row) -> SlotInfo:
    """The cached slot; empty (whole day) when the ticket has none."""
    if not row["slot_code"]:
        return WHOLE_DAY
    return SlotInfo(
        code=row["slot_code"],
        start=time.fromisoformat(row["slot_start"]),
        end=time.fromisoformat(row["slot_end"]),
    )


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()
