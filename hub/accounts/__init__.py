"""B2B accounts (credit lines and prepaid balances) charged atomically with the stock."""

from hub.accounts.service import Account, AccountEntry, AccountService

__all__ = ["Account", "AccountEntry", "AccountService"]
