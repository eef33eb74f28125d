"""The demo: a hub on the embedded default (SQLite), a realistic venue seeded through the
admin API, and a scenario of partner traffic whose outcome is checked, not just shown.

`tickethub demo` (and ``make demo``) runs `sandbox.demo.runner.run_demo`; the steps live
in `sandbox.demo.scenario.STEPS`.
"""
