"""Simulated entrance devices speaking their vendors' real protocols."""
