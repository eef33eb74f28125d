"""What the drivers share through the public API: `hub.sdk.drivers` (options over defaults,
background tasks) and `hub.domain.masking.mask_scan` (what of a scan reaches a log)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.domain.masking import mask_scan
from hub.sdk import Medium
from hub.sdk.drivers import Background, merge_options


def test_options_override_one_nested_key_and_leave_the_defaults_untouched() -> None:
    defaults = {"topic": "gates/{serial}", "fields": {"code": "code", "time": "ts"}, "n": 1}
    options = {"fields": {"code": "qrcode"}, "n": 5, "extra": {"a": 1}}
    merged = merge_options(defaults, options)
    assert merged == {
        "topic": "gates/{serial}",
        "fields": {"code": "qrcode", "time": "ts"},
        "n": 5,
        "extra": {"a": 1},
    }
    merged["fields"]["time"] = "changed"
    merged["extra"]["a"] = 2
    assert defaults["fields"] == {"code": "code", "time": "ts"}  # a copy, not a view
    assert options["extra"] == {"a": 1}


def test_a_plain_value_replaces_a_table_and_a_table_replaces_a_plain_value() -> None:
    assert merge_options({"fields": {"code": "c"}}, {"fields": "none"}) == {"fields": "none"}
    assert merge_options({"fields": "none"}, {"fields": {"code": "c"}}) == {"fields": {"code": "c"}}


def test_scans_are_masked_for_logs() -> None:
    assert mask_scan(Medium.ID_CARD, "110101199003071234") == "1101**********1234"
    assert mask_scan(Medium.QR, "THQR-1234567890") == "THQR-1…"
    assert mask_scan(Medium.NFC, "04A1B2") == "04A1B2"  # short values carry nothing to hide


async def test_background_logs_a_failure_and_close_cancels_what_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Background("gate: answering")
    release = asyncio.Event()

    async def fails() -> None:
        raise ValueError("reader vanished")

    async def waits() -> None:
        await release.wait()

    with caplog.at_level(logging.WARNING, logger="hub.sdk.drivers"):
        failing = tasks.spawn(fails())
        waiting = tasks.spawn(waits())
        await asyncio.wait([failing])
        await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert len(tasks) == 1  # the finished task was let go, the waiting one is kept
    assert any(
        "gate: answering failed" in r.getMessage() and "reader vanished" in r.getMessage()
        for r in caplog.records
    )
    await tasks.close()
    assert waiting.cancelled() and len(tasks) == 0
