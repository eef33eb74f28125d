"""``python -m hub``: the same CLI as the ``tickethub`` script, for places (test harnesses,
subprocesses) that have a Python interpreter but not necessarily the installed script."""

from __future__ import annotations

from hub.cli import main

if __name__ == "__main__":
    main()
