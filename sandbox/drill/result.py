"""What the outage drill found: its figures and checks (`DrillResult`), and how they are
printed by ``tickethub drill outage`` and shown in the demo's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Check:
    what: str
    ok: bool
    detail: str


@dataclass
class DrillResult:
    """The figures measured and the checks made; ``ok`` only if every check held."""

    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def check(self, what: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(what, bool(ok), detail))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "figures": self.figures,
            "checks": [{"what": c.what, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def facts(result: DrillResult) -> list[tuple[str, str]]:
    """The drill's figures as (label, value) lines (the CLI and the demo print these)."""
    f = result.figures
    cap = f.get("day_cap", {})
    return [
        (
            "sold",
            f"{f.get('presold')} pre-sold at the hub, {f.get('emergency_sold_at_bridge')} sold"
            " offline at the bridge's emergency box office",
        ),
        (
            "link",
            f"offline {f.get('offline_after_cut_s')} s after the cut; back online"
            f" {f.get('back_online_s')} s after the hub returned; all synced after"
            f" {f.get('synced_s')} s",
        ),
        ("synced", f"lost {f.get('lost')}, twice {f.get('twice')}"),
        (
            "stock",
            f"capacity {f.get('capacity')}, sold {f.get('sold_at_hub')} (emergency allotment"
            f" {f.get('emergency_bucket')}), available {f.get('available_at_hub')}; day cap"
            f" {cap.get('capacity')}, counted {cap.get('sold')}, set aside {cap.get('reserved')},"
            f" left {cap.get('available')}",
        ),
        (
            "day report",
            ", ".join(
                f"{ch} {v['tickets_sold']} sold / {v['used']} used"
                for ch, v in f.get("report_by_channel", {}).items()
            ),
        ),
        (
            "gates",
            f"hub entries {f.get('entries_at_hub')}, bridge admissions"
            f" {f.get('admitted_at_bridge')} (decisions: hub {f.get('decisions_at_hub')},"
            f" bridge {f.get('decisions_at_bridge')})",
        ),
    ]


def render(result: DrillResult) -> list[str]:
    """Figures, then each check, then the verdict: what ``tickethub drill outage`` prints."""
    lines = [f"{label:<11} {value}" for label, value in facts(result)]
    lines += [f"[{'OK' if c.ok else 'FAIL'}] {c.what} — {c.detail}" for c in result.checks]
    lines.append("DRILL: OK" if result.ok else "DRILL: FAILED")
    return lines
