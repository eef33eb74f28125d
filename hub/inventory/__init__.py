"""The inventory: the only writer of capacity. See `stock` for the atomic moves and
`admin` for capacity and allotments."""

from hub.inventory.stock import Need, Stock, Taken

__all__ = ["Need", "Stock", "Taken"]
