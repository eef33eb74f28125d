"""Built-in rule checks: the essential plugin (cannot be blocked)."""
