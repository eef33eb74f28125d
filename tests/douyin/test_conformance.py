"""Douyin through the channel conformance kit, on SQLite and PostgreSQL, every check
unmodified: the probe names a verify's ``client_token`` and ``certificate/prepare``
requests as preparatory steps, so the kit's faults and its exactly-once count fall on the
``certificate/verify`` requests themselves."""

from __future__ import annotations

from hub.testing.conformance import ConformanceSuite
from sandbox.ota.probes.douyin import DouyinProbe


class TestConformance(ConformanceSuite):
    probe = DouyinProbe()
