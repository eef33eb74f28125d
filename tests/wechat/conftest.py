"""Fixtures of the WeChat channel tests.

Every merchant a test sets up (`sandbox.wechat.keys.generate_merchant_setup`) needs two
RSA-2048 key pairs, and generating one costs 10-60 ms of CPU: ~70 ms a test, for keys
whose freshness no test is about. `pooled_rsa_keys` hands each test keys from a pool
kept for the process instead — distinct from one another within the test (a test that
sets up an impostor merchant still gets other keys), the same objects again in the next
test. An RSA key object is immutable, so tests share no state through it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.wechat import keys

_POOL: list[rsa.RSAPrivateKey] = []


@pytest.fixture(autouse=True)
def pooled_rsa_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[rsa.RSAPrivateKey]]:
    """`keys.new_rsa_key` drawing from the process's pool: the n-th key a test asks for
    is the pool's n-th (made the first time any test needs that many)."""
    handed: list[rsa.RSAPrivateKey] = []

    def pooled() -> rsa.RSAPrivateKey:
        if len(handed) == len(_POOL):
            _POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        key = _POOL[len(handed)]
        handed.append(key)
        return key

    monkeypatch.setattr(keys, "new_rsa_key", pooled)
    yield handed


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s
