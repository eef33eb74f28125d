"""Test support that ships with tickethub, so third-party plugins test the same way."""
