"""Reference third-party plugins used by the tests (registered with ``build_plugins(extra=)``)."""
