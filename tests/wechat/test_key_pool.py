"""The pooled RSA keys of the WeChat tests: distinct within a test, reused across tests."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.wechat import keys
from sandbox.wechat.keys import generate_merchant_setup
from tests.wechat.conftest import _POOL


def _numbers(key: rsa.RSAPrivateKey) -> int:
    return key.public_key().public_numbers().n


def test_two_merchants_of_one_test_have_different_keys(
    pooled_rsa_keys: list[rsa.RSAPrivateKey],
) -> None:
    first = generate_merchant_setup()
    second = generate_merchant_setup()
    assert len(pooled_rsa_keys) == 4
    assert len({_numbers(k) for k in pooled_rsa_keys}) == 4
    assert first.config.merchant_public_key_pem != second.config.merchant_public_key_pem
    assert first.config.platform_private_key_pem != second.config.platform_private_key_pem


def test_a_tests_first_key_is_the_pools_first(
    pooled_rsa_keys: list[rsa.RSAPrivateKey],
) -> None:
    key = keys.new_rsa_key()
    assert pooled_rsa_keys == [key]
    assert key is _POOL[0]  # made by whichever test first needed a key, kept since
    assert key.key_size == 2048
