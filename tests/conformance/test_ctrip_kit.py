"""The conformance kit, run against Ctrip."""

from __future__ import annotations

from hub.testing.conformance import ConformanceSuite
from sandbox.ota.probes.ctrip import CtripProbe


class TestCtripConformance(ConformanceSuite):
    probe = CtripProbe()
