"""Benchmarks: the load generator, the ceiling and baseline servers, ``tickethub bench orders``.

The numbers a benchmark prints mean nothing alone, so every hub measurement is paired with
the ceiling — the fastest correct order endpoint with the hub's durability (`ceiling`),
same process count, same database, same run — and reported as a ratio; the older
per-request baseline (`baseline`) is kept as a second figure.
"""
