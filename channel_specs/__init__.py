"""Channel specs as package data: one ``<partner>.toml`` per OTA, read by
`hub.channels.loader` (a package so ``importlib.resources`` finds them in a wheel)."""
