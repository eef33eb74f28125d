"""Channel specs: every shipped spec loads, and each kind of broken spec fails with a
`SpecError` naming the field, so an integrator fixes a typo from one line of output."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from hub.channels import ChannelSpec, SpecError, load_all, load_spec, parse_spec
from hub.channels.schemes import installed
from hub.domain.errors import DenialCode
from hub.domain.order import IdType
from hub.outbox import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
SPECS = {
    name: ROOT / "plugins" / f"channel_{name}" / f"{name}.toml"
    for name in ("ctrip", "meituan", "douyin", "fliggy")
}

MINIMAL = """
[channel]
name = "demo"
display_name = "Demo"
version = "1"

[envelope]
request_fields = ["header", "body"]
operation_path = "header.serviceName"
body_path = "body"
[envelope.response]
code_path = "header.resultCode"
message_path = "header.resultMessage"
success_code = "0000"

[signing.inbound]
scheme = "md5_concat"
fields = ["header.accountId", "header.serviceName", "body", "$secret"]
secret_setting = "DEMO_SIGN_KEY"

[operations.Verify]
canonical = "verify"
deadline_seconds = 3

[result_codes]
OK = { code = "0000" }
SOLD_OUT = { code = "1003", message = "out of stock" }
default = { code = "1100", message = "refused" }

[callbacks.Confirm]
operation = "Confirm"
timeout_seconds = 10
[callbacks.Confirm.retry]
initial_seconds = 5
multiplier = 2
max_seconds = 60
jitter_seconds = 0
deadline_seconds = 600
"""


def test_minimal_spec_loads() -> None:
    spec = parse_spec(MINIMAL, "demo.toml")
    assert spec.channel.name == "demo"
    assert spec.result("SOLD_OUT") == ("1003", "out of stock")
    assert spec.result("NOT_IN_TABLE") == ("1100", "refused")


def test_every_shipped_spec_loads_from_its_plugin_package() -> None:
    specs = load_all()
    assert set(specs) == {"ctrip", "meituan", "douyin", "fliggy"}
    assert all(isinstance(s, ChannelSpec) for s in specs.values())
    for name in specs:
        # found through the plugin's hook, shipped in the plugin's own package
        source = installed().specs.get(name)
        packaged = resources.files(f"plugins.channel_{name}") / f"{name}.toml"
        assert source == packaged and packaged.is_file()
    spec_language = {f.name for f in resources.files("channel_specs").iterdir()}
    assert not spec_language & {"ctrip.toml", "meituan.toml", "douyin.toml", "fliggy.toml"}


def test_ctrip_facts_from_the_reference() -> None:
    ctrip = load_spec(SPECS["ctrip"])
    assert ctrip.envelope.operation_path == "header.serviceName"
    assert ctrip.encryption.scheme == "aes128cbc_letters"
    assert ctrip.signing.inbound.fields == [
        "header.accountId",
        "header.serviceName",
        "header.requestTime",
        "body",
        "header.version",
        "$secret",
    ]
    assert ctrip.operations["VerifyOrder"].deadline_seconds == 3
    assert ctrip.operations["CreatePreOrder"].deadline_seconds == 8
    assert ctrip.idempotency_path("CreatePreOrder") == "otaOrderId"
    assert ctrip.mapping is not None and ctrip.mapping.id_types["1"] is IdType.ID_CARD
    assert ctrip.callbacks["OrderConsumedNotice"].cumulative is True
    inv = ctrip.callbacks["DateInventoryModify"]
    assert (inv.batch_max, inv.rate_per_minute) == (90, 99)  # "under 100 calls a minute"
    assert ctrip.result("SOLD_OUT") == ("1003", "out of stock")
    assert ctrip.result("ALREADY_REDEEMED")[0] == "2002"
    assert ctrip.result("ALREADY_REDEEMED", "RefundOrder")[0] == "3001"
    assert ctrip.result("OK")[0] == "0000"


def test_douyin_and_meituan_facts() -> None:
    douyin = load_spec(SPECS["douyin"])
    assert douyin.operations["can_buy"].deadline_seconds == 2
    assert douyin.idempotency_path("create_order") == "order_id"
    assert douyin.signing.inbound.scheme == "douyin_spi_sha256"
    assert douyin.signing.inbound_fallback is not None
    assert douyin.signing.inbound_fallback.scheme == "douyin_spi_md5"
    assert douyin.result("VISITOR_COUNT_MISMATCH")[0] == "15"
    meituan = load_spec(SPECS["meituan"])
    assert meituan.idempotency_path("create") == "orderId"
    assert meituan.encryption.unconfirmed is True
    assert meituan.result("OK")[0] == "200"


def test_every_result_key_is_a_denial_code_or_special() -> None:
    allowed = set(DenialCode.__members__) | {
        "OK",
        "PARSE_ERROR",
        "BAD_SIGN",
        "BAD_ACCOUNT",
        "INTERNAL",
        "PENDING",
        "default",
    }
    for spec in load_all().values():
        assert set(spec.result_codes) <= allowed
        assert "default" in spec.result_codes


def test_ctrip_retry_policy_grows_and_keeps_the_deadline() -> None:
    ctrip = load_spec(SPECS["ctrip"])
    cb = ctrip.callbacks["OrderConsumedNotice"]
    policy = cb.retry_policy()
    assert isinstance(policy, RetryPolicy)
    assert policy.deadline_seconds == cb.retry.deadline_seconds == 259200
    assert policy.timeout_seconds == cb.timeout_seconds
    steady = policy.model_copy(update={"jitter_seconds": 0.0})
    delays = [steady.next_delay(n) for n in range(1, 6)]
    assert delays == sorted(delays) and delays[0] < delays[-1]
    assert delays[0] == cb.retry.initial_seconds
    # with jitter, each delay stays within [base, base + jitter]
    for n, base in enumerate(delays, start=1):
        assert base <= policy.next_delay(n) <= base + policy.jitter_seconds
    for callback in ctrip.callbacks.values():
        assert isinstance(callback.retry_policy(), RetryPolicy)


def _broken(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


BROKEN = [
    pytest.param(
        _broken('display_name = "Demo"', 'displayname = "Demo"'),
        "channel",
        "unknown field 'displayname'",
        id="typo-key",
    ),
    pytest.param(
        _broken('scheme = "md5_concat"', 'scheme = "md5_concatt"'),
        "signing.inbound.scheme",
        "md5_concat",
        id="unknown-signing-scheme",
    ),
    pytest.param(
        _broken(
            "[signing.inbound]\n",
            '[encryption]\nscheme = "aes128cbc_letters"\nkey_setting = "K"\n[signing.inbound]\n',
        ),
        "encryption",
        "needs iv_setting",
        id="codec-needs-iv",
    ),
    pytest.param(
        _broken(
            'scheme = "md5_concat"\nfields = ["header.accountId", "header.serviceName", '
            '"body", "$secret"]',
            'scheme = "hmac_sha1_mws"',
        ),
        "signing.inbound",
        "needs client_id_setting",
        id="scheme-needs-client-id",
    ),
    pytest.param(
        _broken(
            'secret_setting = "DEMO_SIGN_KEY"',
            'secret_setting = "DEMO_SIGN_KEY"\nmethod_location = "query:sign_method"',
        ),
        "signing.inbound",
        "'method_location' does not apply",
        id="method-location-for-a-scheme-without-methods",
    ),
    pytest.param(
        _broken('body_path = "body"', 'body_path = "body"\nbody_encoding = "rot13"'),
        "envelope.body_encoding",
        "aes128cbc_letters",
        id="unknown-body-codec",
    ),
    pytest.param(
        _broken("[result_codes]\n", '[result_codes]\nSOLDOUT = { code = "1003" }\n'),
        "result_codes.SOLDOUT",
        "unknown result key",
        id="unknown-denial-code",
    ),
    pytest.param(
        _broken('default = { code = "1100", message = "refused" }\n', ""),
        "result_codes",
        "'default' entry is required",
        id="missing-default",
    ),
    pytest.param(
        _broken('operation_path = "header.serviceName"', 'operation_path = "header..name"'),
        "envelope.operation_path",
        "bad dotted path",
        id="bad-path-syntax",
    ),
    pytest.param(
        _broken('"header.serviceName", "body"', '"header.serviceName", "bodyy"'),
        "signing.inbound.fields[2]",
        "unknown field 'bodyy'",
        id="unknown-sign-field",
    ),
    pytest.param(
        _broken('"header.serviceName", "body"', '"header.serviceName", "body[x]"'),
        "signing.inbound.fields[2]",
        "bad dotted path",
        id="bad-sign-field-syntax",
    ),
    pytest.param(
        _broken("timeout_seconds = 10", "timeout_seconds = -1"),
        "callbacks.Confirm.timeout_seconds",
        "greater than 0",
        id="negative-timeout",
    ),
    pytest.param(
        _broken("deadline_seconds = 3", "deadline_seconds = 0"),
        "operations.Verify.deadline_seconds",
        "greater than 0",
        id="zero-deadline",
    ),
    pytest.param(
        _broken('canonical = "verify"', 'canonical = "verifyy"'),
        "operations.Verify.canonical",
        "create_hold",
        id="unknown-canonical-operation",
    ),
    pytest.param(
        _broken("max_seconds = 60", "max_seconds = 1"),
        "callbacks.Confirm",
        "max_seconds must be >= initial_seconds",
        id="retry-max-below-initial",
    ),
    pytest.param(
        _broken('secret_setting = "DEMO_SIGN_KEY"', ""),
        "signing.inbound",
        "needs secret_setting",
        id="sign-without-secret",
    ),
    pytest.param(
        _broken('name = "demo"', 'name = "Demo"'),
        "channel.name",
        "pattern",
        id="name-not-lowercase",
    ),
    pytest.param(
        _broken(
            "[operations.Verify]\n",
            '[operations.Verify]\nresult_codes = { NOPE = { code = "1" } }\n',
        ),
        "operations.Verify.result_codes.NOPE",
        "unknown result key",
        id="unknown-code-in-operation-override",
    ),
    pytest.param(
        _broken("[channel]\n", "[channel]\n[envelope\n"),
        "",
        "not valid TOML",
        id="not-toml",
    ),
]


@pytest.mark.parametrize(("text", "field_path", "message"), BROKEN)
def test_broken_specs_name_the_field(text: str, field_path: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "demo.toml", protocols=installed())
    err = info.value
    assert err.file == "demo.toml"
    assert err.field_path == field_path, str(err)
    assert message in err.message, str(err)
    assert str(err).startswith("demo.toml: ")


def test_typo_in_a_table_name_is_reported_as_the_unknown_key() -> None:
    text = MINIMAL.replace("[envelope.response]", "[envelope.responsee]")
    with pytest.raises(SpecError) as info:
        parse_spec(text, "demo.toml")
    assert (info.value.field_path, info.value.message) == (
        "envelope",
        "unknown field 'responsee'",
    )


def test_missing_required_field_is_named() -> None:
    text = MINIMAL.replace('success_code = "0000"\n', "")
    with pytest.raises(SpecError) as info:
        parse_spec(text, "demo.toml")
    assert info.value.field_path == "envelope.response.success_code"
    assert "missing" in info.value.message


def test_file_name_must_match_channel_name(tmp_path: Path) -> None:
    f = tmp_path / "other.toml"
    f.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(f)
    assert (info.value.file, info.value.field_path) == ("other.toml", "channel.name")


def test_load_all_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "demo.toml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "README.md").write_text("not a spec", encoding="utf-8")
    assert list(load_all(tmp_path)) == ["demo"]
