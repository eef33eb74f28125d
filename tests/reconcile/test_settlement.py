"""OTA settlement files, read by the channel spec's ``[settlement]`` section alone: the
sandbox OTA writes its file, the hub matches it (API and CLI); every malformed file is
refused naming its line, with nothing imported."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.channels import load_all
from hub.channels.spec_settlement import Settlement
from hub.cli import app
from hub.reconcile.settlement import parse
from hub.reconcile.wechat_bill import BillError
from hub.storage.reconcile_tables import DiscrepancyRow, StatementRow
from sandbox.ota.settlement import Settled, SettlementBook, table
from tests.ctrip.kit import SECRETS, ctrip, ctrip_hub, order
from tests.support import ADMIN, T0, hub_of

DAY = date(2026, 11, 22)  # T0 is 10:00 on the 22nd, China time
SPEC = load_all()["ctrip"].settlement
assert SPEC is not None
AT = T0


def book(*orders: tuple[str, int, str]) -> SettlementBook:
    b = SettlementBook("ctrip")
    for oid, fen, state in orders:
        b.add(Settled(oid, AT, fen, 1, state))
    return b


def csv_file(b: SettlementBook, encoding: str = "utf-8-sig", merchant: str = "acct-1") -> bytes:
    return b.write(DAY, encoding=encoding, merchant=merchant)


def refused(raw: bytes, spec: Settlement = SPEC, merchant: str = "acct-1") -> BillError:  # type: ignore[assignment]
    with pytest.raises(BillError) as exc:
        parse(raw, spec, day=DAY, merchant=merchant)
    return exc.value


def test_every_ota_spec_declares_its_settlement_file() -> None:
    specs = load_all()
    for name in ("ctrip", "meituan", "douyin", "fliggy"):
        s = specs[name].settlement
        assert s is not None and s.unconfirmed, name
        assert {"partner_order_id", "amount", "day", "state"} <= s.columns.keys()
    with pytest.raises(ValidationError, match=r"columns\.partner_order_id"):
        Settlement(columns={"amount": {"header": "a"}, "day": {"header": "d"}})
    with pytest.raises(ValidationError, match="states"):
        Settlement(
            columns={
                "partner_order_id": {"header": "o"},
                "amount": {"header": "a"},
                "day": {"header": "d"},
                "state": {"header": "s"},
            }
        )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_declared_encodings_and_xlsx_read_the_same(encoding: str) -> None:
    b = book(("C-1", 20000, "paid"), ("C-2", 10000, "used"), ("C-3", 5000, "refunded"))
    read = parse(csv_file(b, encoding), SPEC, day=DAY, merchant="acct-1")
    got = [(ln.partner_order_id, ln.amount, ln.state) for ln in read.lines]
    assert got == [("C-1", 20000, "paid"), ("C-2", 10000, "used"), ("C-3", 5000, "refunded")]
    xlsx = parse(b.write(DAY, fmt="xlsx", merchant="acct-1"), SPEC, day=DAY, merchant="acct-1")
    assert [(ln.partner_order_id, ln.amount, ln.state) for ln in xlsx.lines] == got


def test_malformed_files_are_refused_naming_the_line() -> None:
    b = book(("C-1", 20000, "paid"), ("C-2", 10000, "paid"))
    good = csv_file(b).decode("utf-8-sig")
    lines = good.split("\r\n")
    # wrong columns
    err = refused(good.replace("携程订单号", "订单编号").encode())
    assert err.line == 1 and "missing 携程订单号" in str(err)
    # a file in an encoding the spec does not declare
    utf8_only = SPEC.model_copy(update={"encodings": ["utf-8"]})
    err = refused(csv_file(b, "gbk"), utf8_only)
    assert "GBK" in str(err) and err.line >= 1
    # UTF-8 with a BOM where the spec says plain UTF-8: the BOM is dropped, it reads
    assert len(parse(csv_file(b), utf8_only, day=DAY, merchant="acct-1").lines) == 2
    # truncated: the total row is gone, or a line is cut in half
    err = refused("\r\n".join(lines[:3]).encode())
    assert "合计" in str(err) and "truncated" in str(err)
    cut = "\r\n".join([*lines[:2], lines[2][:20]])
    err = refused(cut.encode())
    assert err.line == 3 and "truncated" in str(err)
    # a line of another day; another merchant id
    other = good.replace(",2026-11-22,", ",2026-11-21,", 1)
    err = refused(other.encode())
    assert err.line == 2 and "2026-11-21" in str(err)
    err = refused(csv_file(b, merchant="acct-9"))
    assert err.line == 2 and "acct-9" in str(err)
    # a state word the spec does not map; an amount that is not one
    err = refused(good.replace("待使用", "冻结中", 1).encode())
    assert err.line == 2 and "冻结中" in str(err)
    err = refused(good.replace("200.00", "2O0.00", 1).encode())
    assert err.line == 2 and "订单金额" in str(err)
    # a truncated workbook
    xlsx = b.write(DAY, fmt="xlsx", merchant="acct-1")
    assert "XLSX" in str(refused(xlsx[: len(xlsx) // 2]))


def test_table_has_title_rows_above_a_later_header() -> None:
    spec = SPEC.model_copy(update={"header_row": 3})
    rows = table(spec, [Settled("C-1", AT, 100, 1, "paid")], "acct-1")
    assert rows[2][0] == "携程订单号"
    buf = io.StringIO()
    import csv

    csv.writer(buf).writerows(rows)
    read = parse(buf.getvalue().encode(), spec, day=DAY, merchant="acct-1")
    assert [ln.line_no for ln in read.lines] == [4]


async def test_sandbox_ctrip_file_matched_by_the_hub(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    c.now = lambda: T0  # type: ignore[method-assign]
    for oid in ("s1", "s2", "s3", "s4"):
        assert (await c.call("CreateOrder", order(oid, quantity=2))).ok
    assert (await c.call("CancelOrder", {"otaOrderId": "s4", "sequenceId": "x" * 40})).ok
    assert {o.state for o in c.settlement.orders.values()} == {"paid", "refunded"}
    c.settlement.misstate["s1"] = 100  # 1.00 yuan instead of 2.00
    c.settlement.leave_out.add("s2")
    c.settlement.settle_unknown("s9", 500, T0)
    raw = c.settlement.write(DAY, encoding="gbk", merchant=SECRETS["CTRIP_ACCOUNT_ID"])
    url = f"/api/admin/reconcile/statements?channel=ctrip&date={DAY}"
    resp = await client.post(url, data=raw, headers=ADMIN)
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["lines"], body["discrepancies_found"]) == (4, 3)
    resp = await client.get("/api/admin/reconcile/discrepancies?channel=ctrip", headers=ADMIN)
    found = sorted((d["kind"], d["rule"], d["ref"]) for d in (await resp.json())["discrepancies"])
    assert found == [
        ("amount_mismatch", "ctrip.order.amount", "order:s1"),
        ("hub_only", "ctrip.order.not_at_partner", "order:s2"),
        ("partner_only", "ctrip.order.not_in_hub", "order:s9"),
    ]
    again = await (await client.post(url, data=raw, headers=ADMIN)).json()
    assert again["already_imported"]
    # a malformed file: 422 naming the line, and nothing more stored
    bad = raw.replace(b"acct-1", b"acct-7", 1)
    resp = await client.post(url.replace(str(DAY), str(DAY)), data=bad, headers=ADMIN)
    err = await resp.json()
    assert (
        resp.status == 422 and err["code"] == "STATEMENT_REFUSED" and err["details"]["line"] == 2
    ), err
    async with hub_of(client).engine.connect() as conn:
        stmts = (await conn.execute(select(func.count()).select_from(StatementRow))).scalar()
        discs = (await conn.execute(select(func.count()).select_from(DiscrepancyRow))).scalar()
    assert (stmts, discs) == (1, 3)


def test_cli_imports_an_ota_file_by_its_spec(tmp_path: Path) -> None:
    from tests.reconcile.test_api_cli import _prepare

    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    asyncio.run(_prepare(url))
    b = book(("C-1", 20000, "paid"))
    f = tmp_path / "ctrip.xlsx"
    f.write_bytes(b.write(DAY, fmt="xlsx", merchant="acct-1"))
    args = ["reconcile", "import", str(f), "--channel", "ctrip", "--date", str(DAY)]
    no_id = CliRunner().invoke(app, [*args, "--database-url", url])
    assert no_id.exit_code != 0 and "no merchant id" in no_id.output
    done = CliRunner().invoke(app, [*args, "--mch-id", "acct-1", "--database-url", url])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["discrepancies_found"] == 1  # C-1: not in the hub
    unknown = CliRunner().invoke(app, [*args[:4], "nope", *args[5:], "--database-url", url])
    assert unknown.exit_code != 0 and "no channel 'nope'" in unknown.output
