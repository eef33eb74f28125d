"""`hub.sdk.commands`: a plugin's CLI command reaches the database through the SDK (the
agency's ``statement`` and ``noshows`` do), on both databases."""

from __future__ import annotations

from hub.sdk.commands import command_services


async def test_a_command_reaches_accounts_its_store_and_orders(db_url: str) -> None:
    async with command_services("agency", db_url) as services:
        await services.store.put("profile", "a1", {"name": "Tripnest"})
        opened = await services.accounts.open("agency:a1", owner="a1", kind="credit")
        assert await services.orders.get("no-such-order") is None
    async with command_services("agency", db_url) as again:
        assert await again.store.get("profile", "a1") == {"name": "Tripnest"}
        assert await again.accounts.get("agency:a1") == opened
    async with command_services("someone-else", db_url) as other:
        assert await other.store.get("profile", "a1") is None  # stores are per plugin
