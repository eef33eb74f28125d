"""The hub's HTTP API: the application factory (`hub.api.app`) and the core routes.

The helpers plugins share (routes, errors, request parsing, auth) are `hub.sdk.web`."""
