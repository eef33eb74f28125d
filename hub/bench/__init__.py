"""Benchmarks: the load generator, the baseline server and ``tickethub bench orders``.

The numbers a benchmark prints mean nothing alone, so every hub measurement is paired with
a baseline — a bare aiohttp handler doing the same single conditional-update transaction
on the same database, with the same process count — and reported as a ratio.
"""
