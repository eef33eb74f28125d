"""Douyin through the channel conformance kit, on SQLite and PostgreSQL.

The kit's callback check counts every request at its receiver as one callback, but one
Douyin verify is three requests (client_token, certificate/prepare, certificate/verify),
so that check is replaced here by the same promise checked against the sandbox Douyin
OpenAPI, which knows the three apart: every provoked verify lands exactly once (no
voucher verified twice) through a 5xx, a timeout and a 5xx."""

from __future__ import annotations

import asyncio

from hub.testing.conformance import ConformanceSuite, kit_hub
from hub.testing.conformance.suite import MAX_DRIVE_ROUNDS
from sandbox.ota.douyin import DouyinOpenApi
from sandbox.ota.probes.douyin import SECRETS, DouyinProbe


class TestConformance(ConformanceSuite):
    probe = DouyinProbe()

    async def test_callbacks_land_once_through_timeouts_and_5xx(
        self, conformance_db_url: str
    ) -> None:
        api = DouyinOpenApi(
            SECRETS["DOUYIN_CLIENT_KEY"],
            SECRETS["DOUYIN_CLIENT_SECRET"],
            strict_codes=False,  # the kit's hub issues codes Douyin has not imported
            hang_seconds=1.0,  # longer than the kit's 0.5 s attempt timeout
        )
        api.fail("verify", "500", "timeout", "500")
        url = await api.start()
        try:
            extra = self.probe.callback_settings(url)
            async with kit_hub(
                self.probe, conformance_db_url, capacity=self.capacity, extra_settings=extra
            ) as kit:
                for key in ("CK-CB-1", "CK-CB-2"):
                    status, answer = await kit.ask(self._order(kit, key))
                    assert answer.code in self.probe.ok_codes, (status, answer)
                    await self.probe.provoke_callback(kit.client, key)
                assert sum((await kit.outbox_states()).values()) == 2
                worker = kit.callback_worker()
                for _ in range(MAX_DRIVE_ROUNDS):
                    await worker.run_once()
                    states = await kit.outbox_states()
                    if set(states) <= {"done", "dead"}:
                        break
                    await asyncio.sleep(0.02)
                assert states == {"done": 2}, states
                assert len(api.verified) == 2 and api.double_verifies == []
                assert api.attempts["verify"] == 5  # 2 landed + the 3 faults
                assert api.tokens_issued == 1
        finally:
            await api.close()
