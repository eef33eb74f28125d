"""The channel spec language as package data: its README, the JSON Schema generated from
`hub.channels.spec` (``channel-spec.schema.json``) and the example spec for a new OTA. A
package so ``importlib.resources`` finds them in a wheel. Partners' own specs live in
their plugins (``plugins/channel_ctrip/ctrip.toml``)."""
