"""The checks every channel must pass, as a pytest class to subclass::

    from hub.testing.conformance import ConformanceSuite

    class TestConformance(ConformanceSuite):
        probe = MyPartnerProbe()

Each check runs on SQLite and on PostgreSQL (the ``conformance_db_url`` fixture of the
``tickethub`` pytest plugin). The checks are the partner's promises, not ours: a forged
call is refused in the partner's words with nothing written, a retry gets the first
answer, a changed retry is refused, garbage, huge and deeply nested bodies never cause a
500 (each is refused in the partner's "malformed" words), concurrent orders never
oversell, and every callback lands once through timeouts and 5xx (skipped, with the
probe's reason, for a partner the hub never calls back).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from hub.testing.conformance.harness import PRODUCT, KitHub, kit_hub
from hub.testing.conformance.probe import ChannelProbe, ProbeAnswer, ProbeRequest
from hub.testing.conformance.receiver import CallbackReceiver

DRIVE_SECONDS = 60.0
"""How long the callback check drives the outbox before judging what landed."""

NESTINGS = {
    "arrays 100000 deep": (b"[", b"]", 100_000),
    "objects 100000 deep": (b'{"a":', b"}", 100_000),
    "objects 500 deep": (b'{"a":', b"}", 500),
    "arrays as deep as the body limit allows": (b"[", b"]", None),
}
"""Nested JSON under the body limit: the deep ones overflow a recursive parser; 500 levels
parse, then overflow whatever walks the document next (a fingerprint, validation)."""


class ConformanceSuite:
    """Subclass with ``probe = <ChannelProbe>``; pytest collects the ``test_*`` methods."""

    probe: ClassVar[ChannelProbe]
    capacity: ClassVar[int] = 5

    def _order(self, kit: KitHub, key: str, quantity: int = 1) -> ProbeRequest:
        return self.probe.order(key, product=PRODUCT, day=kit.day, quantity=quantity)

    @staticmethod
    def _refused(status: int, answer: ProbeAnswer, codes: frozenset[str], what: str) -> None:
        assert status < 500, f"{what}: HTTP {status} (a partner retries or escalates a 5xx)"
        assert answer.code in codes, f"{what}: partner code {answer.code!r}, wanted {codes}"

    async def test_a_valid_order_takes_stock(self, conformance_db_url: str) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            status, answer = await kit.ask(self._order(kit, "CK-OK-1", quantity=2))
            assert status < 500 and answer.code in self.probe.codes.ok, (status, answer)
            assert await kit.taken() == 2
            assert await kit.orders() == 1

    async def test_a_forged_signature_is_refused_and_nothing_written(
        self, conformance_db_url: str
    ) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            forged = self.probe.forge(self._order(kit, "CK-FORGED-1"))
            status, answer = await kit.ask(forged)
            self._refused(status, answer, self.probe.codes.bad_sign, "forged signature")
            assert await kit.taken() == 0
            assert await kit.orders() == 0

    async def test_a_replay_gets_the_first_answer_and_takes_stock_once(
        self, conformance_db_url: str
    ) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            request = self._order(kit, "CK-REPLAY-1")
            first = await kit.ask(request)
            again = await asyncio.gather(*(kit.ask(self.probe.resend(request)) for _ in range(3)))
            assert first[1].code in self.probe.codes.ok, first
            for status, answer in again:
                # The partner's reading must be the first one; the status only of the same
                # class (a REST API may say 201 Created first and 200 on a replay).
                assert answer == first[1], (first, status, answer)
                assert status // 100 == first[0] // 100, (first, status, answer)
            assert await kit.taken() == 1
            assert await kit.orders() == 1

    async def test_a_replay_with_a_changed_body_is_refused(self, conformance_db_url: str) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            status, answer = await kit.ask(self._order(kit, "CK-CHANGED-1", quantity=1))
            assert answer.code in self.probe.codes.ok, (status, answer)
            status, answer = await kit.ask(self._order(kit, "CK-CHANGED-1", quantity=2))
            self._refused(status, answer, self.probe.codes.conflict, "changed replay")
            assert await kit.taken() == 1
            assert await kit.orders() == 1

    async def test_a_malformed_body_is_refused_in_the_partners_words(
        self, conformance_db_url: str
    ) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            status, answer = await kit.ask(self.probe.malformed("CK-MALFORMED-1"))
            self._refused(status, answer, self.probe.codes.parse_error, "malformed body")
            assert await kit.orders() == 0

    @pytest.mark.parametrize("over", [1, 4096], ids=["1 byte over", "4 KiB over"])
    async def test_an_oversized_body_is_refused_in_the_partners_words(
        self, conformance_db_url: str, over: int
    ) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            size = kit.hub.settings.max_body_bytes + over
            status, answer = await kit.ask(self.probe.oversized(size))
            self._refused(status, answer, self.probe.codes.parse_error, "oversized body")
            assert await kit.orders() == 0

    @pytest.mark.parametrize("nesting", list(NESTINGS))
    async def test_a_deeply_nested_body_is_refused_in_the_partners_words(
        self, conformance_db_url: str, nesting: str
    ) -> None:
        opening, closing, depth = NESTINGS[nesting]
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            if depth is None:  # the whole body limit spent on nesting
                depth = (kit.hub.settings.max_body_bytes - 512) // (len(opening) + len(closing))
            body = opening * depth + (b"0" if opening.endswith(b":") else b"") + closing * depth
            status, answer = await kit.ask(self.probe.carrying(body))
            self._refused(status, answer, self.probe.codes.parse_error, f"{nesting} body")
            assert await kit.orders() == 0
            assert await kit.taken() == 0

    async def test_concurrent_orders_never_oversell(self, conformance_db_url: str) -> None:
        async with kit_hub(self.probe, conformance_db_url, capacity=self.capacity) as kit:
            requests = [self._order(kit, f"CK-RACE-{i}") for i in range(self.capacity * 3)]
            results = await asyncio.gather(*(kit.ask(r) for r in requests))
            codes = self.probe.codes
            ok = [a for _, a in results if a.code in codes.ok]
            for status, answer in results:
                assert status < 500, results
                assert answer.code in codes.ok | codes.sold_out, answer
            assert len(ok) == self.capacity, [a.code for _, a in results]
            assert await kit.taken() == self.capacity

    async def test_callbacks_land_once_through_timeouts_and_5xx(
        self, conformance_db_url: str
    ) -> None:
        probe = self.probe
        if probe.no_callbacks:
            pytest.skip(f"{probe.channel} has no partner callbacks: {probe.no_callbacks}")
        receiver = CallbackReceiver(
            identify=probe.callback_identity,
            answer=probe.callback_answer,
            faults=["5xx", "timeout", "5xx"],
        )
        url = await receiver.start()
        try:
            extra = probe.callback_settings(url)
            async with kit_hub(
                probe, conformance_db_url, capacity=self.capacity, extra_settings=extra
            ) as kit:
                for key in ("CK-CB-1", "CK-CB-2"):
                    status, answer = await kit.ask(self._order(kit, key))
                    assert answer.code in probe.codes.ok, (status, answer)
                    await probe.provoke_callback(kit, key)
                queued = sum((await kit.outbox_states()).values())
                assert queued >= 2, f"provoke_callback queued {queued} calls for 2 orders"
                worker = kit.callback_worker()
                # Round after round; between rounds the worker's clock leaps to the next
                # due call, so no backoff is waited out. Bounded by wall time all the
                # same (the attempt timeouts are real).
                loop = asyncio.get_running_loop()
                deadline = loop.time() + DRIVE_SECONDS
                while True:
                    await worker.run_once()
                    states = await kit.outbox_states()
                    if set(states) <= {"done", "dead"} or loop.time() > deadline:
                        break
                    due = await kit.next_due()
                    if due is not None:
                        kit.callback_clock.leap_to(due)
                    await asyncio.sleep(0)  # calls settled by now; let the servers breathe
                assert set(states) == {"done"}, (states, receiver.summary())
                assert len(receiver.acknowledged) == states["done"], receiver.summary()
                assert all(n == 1 for n in receiver.acknowledged.values()), receiver.summary()
                assert not receiver.after_ack(), receiver.summary()
                # Every fault was spent on a request that IS a callback (not on a step).
                assert not receiver.faults, receiver.summary()
                assert any(a.outcome == "timeout" for a in receiver.attempts)
                assert not any(a.outcome == "forged" for a in receiver.attempts), receiver.summary()
        finally:
            await receiver.close()
