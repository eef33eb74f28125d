"""The flow wall: counters kept by the writes (`counters`), one snapshot of a venue
(`snapshot`) and its live stream (`stream`)."""
