"""The conformance kit, run against Meituan."""

from __future__ import annotations

from hub.testing.conformance import ConformanceSuite
from sandbox.ota.probes.meituan import MeituanProbe


class TestMeituanConformance(ConformanceSuite):
    probe = MeituanProbe()
