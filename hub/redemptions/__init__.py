"""The hub side of the venue bridges: ticket changes down by cursor, gate decisions up
(recorded once by their id), flow counters, conflicts, and emergency entries.

Kept import-light: the order path imports `hub.redemptions.changes` on every write."""
