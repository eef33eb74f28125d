"""Drills staff run against the sandbox (``tickethub drill …``): a whole hub and venue
bridge in one process, an incident played through their real HTTP APIs, and checks
that say whether the system came through it. `outage`: the bridge cut off from the hub."""
