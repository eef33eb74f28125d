"""Debian's chromium driven by Playwright: the one launcher of every browser test (the
console's pages, the bridge's handheld page).

Nothing is downloaded: Playwright launches ``/usr/bin/chromium`` (or
``$TICKETHUB_CHROMIUM``) (``apt-get install -y chromium fonts-wqy-microhei``; ``.ci/run``
does it) by its path. Without it the browser tests skip with the reason, unless
``TICKETHUB_REQUIRE_BROWSER=1`` (CI), where they fail. Screenshots go to
``$TICKETHUB_ARTIFACTS/<folder>`` (default ``var/artifacts/<folder>`` in the repository,
ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("TICKETHUB_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("TICKETHUB_REQUIRE_BROWSER", "") == "1"
ROOT = Path(__file__).resolve().parents[1]


def artifacts_dir(folder: str) -> Path:
    """Where a test writes screenshots (kept after the run, for people to look at)."""
    base = Path(os.environ.get("TICKETHUB_ARTIFACTS", ROOT / "var" / "artifacts"))
    out = base / folder
    out.mkdir(parents=True, exist_ok=True)
    return out


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless chromium (Playwright's `Browser`), or a skip saying why there is none."""
    if not CHROMIUM.exists():
        reason = f"no browser at {CHROMIUM} (apt-get install -y chromium fonts-wqy-microhei)"
        if REQUIRE_BROWSER:
            pytest.fail(f"TICKETHUB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            await launched.close()
