"""The order pipeline: intake (group commit), lifecycle moves, idempotency, tickets."""

from hub.orders.outcome import Outcome
from hub.orders.service import OrderService

__all__ = ["OrderService", "Outcome"]
