"""The order pipeline: intake (group commit), lifecycle moves, idempotency, tickets."""

from hub.orders.service import OrderService
from hub.sdk.outcome import Outcome

__all__ = ["OrderService", "Outcome"]
