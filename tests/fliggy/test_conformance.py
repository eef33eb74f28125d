"""The conformance kit, run against Fliggy."""

from __future__ import annotations

from hub.testing.conformance import ConformanceSuite
from sandbox.ota.probes.fliggy import FliggyProbe


class TestConformance(ConformanceSuite):
    probe = FliggyProbe()
