"""The spec language folder (``channel_specs/``): its JSON Schema is generated from the
models and committed up to date, and its example spec for a new OTA is a working spec."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from hub.channels import load_spec
from hub.channels.adapter import HttpCall, Inbound, SpecInbound
from hub.channels.mapping import to_order_request
from hub.channels.schemes import installed
from hub.channels.spec import ChannelSpec
from hub.channels.spec_schema import FILE_NAME, main, render
from hub.domain import OrderRequest

LANGUAGE = Path(__file__).resolve().parents[2] / "channel_specs"
EXAMPLE = LANGUAGE / "example_ota.toml"


def test_the_committed_json_schema_is_a_fresh_generation() -> None:
    committed = (LANGUAGE / FILE_NAME).read_text(encoding="utf-8")
    assert committed == render(), "run: python -m hub.channels.spec_schema"


def test_the_schema_covers_every_table_and_forbids_unknown_keys() -> None:
    schema = json.loads(render())
    assert set(schema["properties"]) == set(ChannelSpec.model_fields)
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["SignatureSide"]["additionalProperties"] is False


def test_the_generator_rewrites_a_stale_file_and_check_reports_it(tmp_path: Path) -> None:
    target = tmp_path / FILE_NAME
    target.write_text("{}\n", encoding="utf-8")
    assert main([str(target), "--check"]) == 1
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert main([str(target), "--check"]) == 0


def test_the_example_spec_names_the_schema_and_loads_with_the_installed_schemes() -> None:
    assert EXAMPLE.read_text(encoding="utf-8").startswith(f"#:schema ./{FILE_NAME}\n")
    spec = load_spec(EXAMPLE, protocols=installed())
    assert spec.channel.name == "example_ota"
    assert {op.canonical for op in spec.operations.values()} >= {"verify", "create_paid"}


def test_a_signed_call_to_the_example_spec_reads_and_maps_to_an_order() -> None:
    """Built with the reference formula (md5 of the listed fields), not the checker."""
    spec = load_spec(EXAMPLE, protocols=installed())
    settings = {"EXAMPLE_OTA_PARTNER_ID": "p-1", "EXAMPLE_OTA_SECRET": "sec"}
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    inbound = SpecInbound(spec, settings, clock=lambda: now, protocols=installed())
    order = {
        "orderId": "E-1",
        "sku": "ADULT",
        "qty": 1,
        "date": "2026-05-02",
        "price": 8000,
        "guests": [{"name": "Li Lei", "idType": "2", "idNo": "E1234567"}],
        "contact": {"name": "Li Lei", "phone": "13800000000"},
    }
    data = base64.b64encode(json.dumps(order).encode()).decode()
    head = {"partnerId": "p-1", "method": "createOrder", "timestamp": "2026-05-01 10:00:00"}
    signed = head["partnerId"] + head["method"] + head["timestamp"] + data + "sec"
    head["sign"] = hashlib.md5(signed.encode()).hexdigest()
    got = inbound.read(HttpCall.of(json.dumps({"head": head, "data": data}).encode()))
    assert isinstance(got, Inbound), got
    request = to_order_request(spec, got.body, got.operation, confirm=True)
    assert isinstance(request, OrderRequest), request
    assert request.partner_order_id == "E-1" and request.quantity == 1
