"""tickethub: one inventory and one rule set for every sales channel and every gate.

This package's ``__init__`` runs on every import of any hub module (the pure
`hub.domain` included), so it imports nothing. Plugins and the venue bridge build on
`hub.sdk` (and the pure `hub.domain`); the rest of ``hub`` is the hub's own.
"""
