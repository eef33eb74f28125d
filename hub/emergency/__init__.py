"""The emergency box office at the bridges, hub side: the per-bridge allotments taken
from the common stock in advance (`allotments`), the bridge keys the venue key certifies
and revokes (`keys`), and the emergency sales a bridge brings back once the link
returns, recorded exactly once (`intake`)."""

CHANNEL = "emergency"


def bucket_of(bridge_id: str) -> str:
    """The inventory bucket of one bridge's emergency allotment."""
    return f"{CHANNEL}:{bridge_id}"
