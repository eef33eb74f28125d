"""Travel agencies: group orders with rosters, paid from a credit line or a prepaid
balance, over an HMAC-signed API; staff manage agencies, approvals, no-shows and
statements. Found through the ``tickethub`` entry point like any third-party plugin.

Dependencies: ``openpyxl`` (Excel rosters) stays core, not an extra: the hub's own
reconciliation export (`hub.reconcile.export`) writes Excel with it too.
"""

from __future__ import annotations

from typing import Any

from hub.sdk import ChannelRegistry, hookimpl

__version__ = "0.1.0"


class AgencyChannel:
    """The channel adapter: mounts both APIs; agencies get no callbacks (they poll)."""

    name = "agency"

    def setup(self, ctx: Any) -> None:
        from plugins.channel_agency import api_agency, api_staff
        from plugins.channel_agency.auth import Guard
        from plugins.channel_agency.groups import Groups
        from plugins.channel_agency.profiles import Agencies

        agencies = Agencies(ctx)
        groups = Groups(ctx, agencies)
        guard = Guard(agencies, ctx, int(ctx.settings.get("signature_window_seconds", 300)))
        api_agency.mount(ctx, guard, agencies, groups)
        api_staff.mount(ctx, agencies, groups)

    async def deliver(self, call: Any) -> None:
        from hub.sdk import DeliveryError

        raise DeliveryError(f"agencies have no partner calls ({call.kind})", retryable=False)


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    registry.add(AgencyChannel.name, AgencyChannel(), default=True)


@hookimpl
def add_cli_commands(app: Any) -> None:
    from plugins.channel_agency.cli import app as agency_app

    app.add_typer(agency_app, name="agency")
