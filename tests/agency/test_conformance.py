"""The conformance kit, run against the travel agency channel (the HMAC-signed agency
API): every check for real except the callback one, which is skipped because the hub
never calls an agency back (the probe says so, and a skip shows in the report)."""

from __future__ import annotations

from hub.testing.conformance import ConformanceSuite
from sandbox.agency.probe import AgencyProbe


class TestAgencyConformance(ConformanceSuite):
    probe = AgencyProbe()
