"""The daily job's clock: when yesterday is due, in which zone, configurable."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from hub.config import ConfigError
from hub.reconcile.daily import DailyReconcile
from hub.settings import Settings


def job(**kw: Any) -> DailyReconcile:
    return DailyReconcile(None, clock=None, sources=list, **kw)  # type: ignore[arg-type]


def test_yesterday_is_due_after_run_after_in_the_zone() -> None:
    default = job()  # 10:00 Asia/Shanghai
    at_0959 = datetime(2026, 12, 8, 1, 59, tzinfo=UTC)  # 09:59 in Shanghai
    at_1000 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    assert default.due_day(at_0959) is None
    assert default.due_day(at_1000) == date(2026, 12, 7)
    late = job(run_after=time(11, 30), timezone="Europe/Berlin")
    assert late.due_day(datetime(2026, 12, 8, 10, 29, tzinfo=UTC)) is None  # 11:29 Berlin
    assert late.due_day(datetime(2026, 12, 8, 10, 30, tzinfo=UTC)) == date(2026, 12, 7)


def test_settings_refuse_an_unknown_zone() -> None:
    assert Settings(reconcile_run_after="10:30").reconcile_run_after == time(10, 30)
    with pytest.raises(ConfigError, match=r"TICKETHUB_RECONCILE_TIMEZONE.*unknown time zone"):
        Settings(reconcile_timezone="Mars/Olympus")
