"""WeChat Pay's trade bills (对账单), generated from the simulator's own ledger.

- v3: ``GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL[&tar_type=GZIP]``
  (signed like every v3 call, answer signed) → ``{hash_type: SHA1, hash_value,
  download_url}``; the file is fetched from ``download_url`` with a signed GET whose
  answer is NOT signed. The hash is over the bill itself (unpacked), as WeChat's is.
- v2: ``POST /pay/downloadbill`` (XML signed like other v2 calls, ``bill_date`` as
  ``YYYYMMDD``) answers the CSV itself, or an XML ``return_code=FAIL`` document.

A day's bill exists from 10:00 China time the next day, on the simulator's clock
(`Clock.advance` moves it), and only when the day had transactions; otherwise the error
WeChat gives (``NO_STATEMENT_EXIST`` / ``No Bill Exist``).

Bill faults, for reconciliation tests and the demo (the control API, `BillFaults`): leave
a payment off the bill, show it with another amount, or add a refund the merchant never
asked for.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from aiohttp import web

from hub.reconcile.bill_writer import Txn, render
from sandbox.wechat.config import Clock, WeChatSimConfig
from sandbox.wechat.ledger import CHINA, Ledger, new_refund_id
from sandbox.wechat.pay_v2 import PayV2
from sandbox.wechat.pay_v3 import PayError, PayV3
from sandbox.wechat.v2_xml import parse_xml, to_xml, xml_response

READY = time(10)  # yesterday's bill exists from 10:00 China time
DAY_V3 = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_V2 = re.compile(r"^\d{8}$")


@dataclass
class PhantomRefund:
    at: datetime
    out_trade_no: str
    out_refund_no: str
    amount: int  # fen
    refund_id: str = field(default_factory=new_refund_id)


@dataclass
class BillFaults:
    """What the next bills get wrong, on purpose."""

    missing: set[str] = field(default_factory=set)  # out_trade_no left off the bill
    amounts: dict[str, int] = field(default_factory=dict)  # out_trade_no -> fen shown
    refunds: list[PhantomRefund] = field(default_factory=list)  # unknown to the merchant
    truncate: bool = False  # v3: the download breaks off (the hash announced is the whole's)

    def clear(self) -> None:
        self.missing.clear()
        self.amounts.clear()
        self.refunds.clear()


class Bills:
    def __init__(
        self, config: WeChatSimConfig, clock: Clock, ledger: Ledger, v3: PayV3, v2: PayV2
    ) -> None:
        self.config = config
        self.clock = clock
        self.ledger = ledger
        self.v3 = v3
        self.v2 = v2
        self.faults = BillFaults()
        self.downloads = 0  # files fetched through download_url
        self._files: dict[str, bytes] = {}  # download token -> file as served

    # --- control API ---------------------------------------------------------------------

    def leave_out(self, out_trade_no: str) -> None:
        """The next bills do not show this payment (nor its refunds)."""
        self.faults.missing.add(out_trade_no)

    def misstate(self, out_trade_no: str, amount: int) -> None:
        """The next bills show this payment with `amount` fen."""
        self.faults.amounts[out_trade_no] = amount

    def unknown_refund(self, out_trade_no: str, amount: int, at: datetime) -> PhantomRefund:
        """A refund line the merchant never asked for, on the bill of `at`'s day."""
        refund = PhantomRefund(at, out_trade_no, "SIMR" + secrets.token_hex(8), amount)
        self.faults.refunds.append(refund)
        return refund

    # --- the bill ------------------------------------------------------------------------

    def ready(self, day: date) -> bool:
        now = datetime.fromtimestamp(self.clock.now(), CHINA)
        return now >= datetime.combine(day + timedelta(days=1), READY, CHINA)

    def transactions(self, day: date) -> list[Txn]:
        """The day's lines (China time), payments and refunds, in time order."""

        def on_day(ts: float | None) -> datetime | None:
            if ts is None:
                return None
            at = datetime.fromtimestamp(ts, CHINA)
            return at if at.date() == day else None

        out: list[Txn] = []
        f = self.faults
        with self.ledger.lock:
            for txn in self.ledger.transactions.values():
                at = on_day(txn.success_time)
                if at is None or txn.state not in ("SUCCESS", "REFUND"):
                    continue
                if txn.out_trade_no in f.missing:
                    continue
                amount = f.amounts.get(txn.out_trade_no, txn.total)
                out.append(Txn(at, txn.out_trade_no, amount, txn.transaction_id))
            for r in self.ledger.refunds.values():
                at = on_day(r.success_time)
                if at is None or r.status != "SUCCESS" or r.out_trade_no in f.missing:
                    continue
                out.append(
                    Txn(
                        at,
                        r.out_trade_no,
                        r.refund,
                        r.transaction_id,
                        "REFUND",
                        r.out_refund_no,
                        r.refund_id,
                    )
                )
        for p in f.refunds:
            if p.at.astimezone(CHINA).date() == day:
                txn_id = getattr(self.ledger.transactions.get(p.out_trade_no), "transaction_id", "")
                out.append(
                    Txn(
                        p.at,
                        p.out_trade_no,
                        p.amount,
                        txn_id or "0",
                        "REFUND",
                        p.out_refund_no,
                        p.refund_id,
                    )
                )
        out.sort(key=lambda t: t.at)
        return out

    def bill(self, day: date) -> bytes | None:
        """The ALL bill of `day`, or None when the day had no transactions."""
        txns = self.transactions(day)
        return render(txns, self.config.mchid, self.config.appid) if txns else None

    # --- v3 ------------------------------------------------------------------------------

    async def tradebill(self, request: web.Request, raw: str) -> tuple[int, object]:
        q = request.query
        bill_date = q.get("bill_date", "")
        if not DAY_V3.match(bill_date):
            raise PayError(400, "PARAM_ERROR", "bill_date 格式错误，应为 YYYY-MM-DD")
        if q.get("bill_type", "ALL") != "ALL":
            raise PayError(400, "PARAM_ERROR", "模拟器只提供 bill_type=ALL 的账单")
        if q.get("tar_type", "GZIP") != "GZIP":
            raise PayError(400, "PARAM_ERROR", "tar_type 只能是 GZIP")
        day = date.fromisoformat(bill_date)
        if not self.ready(day):
            raise PayError(400, "STATEMENT_CREATING", "账单生成中，请在次日10点后下载")
        bill = self.bill(day)
        if bill is None:
            raise PayError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        token = secrets.token_urlsafe(16)
        served = bill[: len(bill) // 2] if self.faults.truncate else bill
        self._files[token] = gzip.compress(served) if "tar_type" in q else served
        return 200, {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(bill).hexdigest(),
            "download_url": f"{request.url.origin()}/v3/billdownload/file?token={token}",
        }

    async def download(self, request: web.Request) -> web.StreamResponse:
        """The file itself: the request is signed, the answer is not (as at WeChat)."""
        try:
            self.v3.verify(request, "")
        except PayError as exc:
            return self.v3.respond(exc.status, exc.body())
        body = self._files.get(request.query.get("token", ""))
        if body is None:
            return self.v3.respond(
                404, {"code": "RESOURCE_NOT_EXISTS", "message": "下载链接已失效"}
            )
        self.downloads += 1
        return web.Response(body=body, content_type="application/octet-stream")

    # --- v2 ------------------------------------------------------------------------------

    async def downloadbill(self, request: web.Request) -> web.Response:
        params = parse_xml(await request.read())
        if params is None:
            return self._v2_fail("XML格式错误")
        refusal = self.v2.refusal(params)
        if refusal:
            return self._v2_fail(refusal)
        bill_date = params.get("bill_date", "")
        if not DAY_V2.match(bill_date):
            return self._v2_fail("invalid bill_date", "20001")
        if params.get("bill_type", "ALL") != "ALL":
            return self._v2_fail("invalid bill_type", "20001")
        day = datetime.strptime(bill_date, "%Y%m%d").date()
        bill = self.bill(day) if self.ready(day) else None
        if bill is None:
            return self._v2_fail("No Bill Exist", "20002")
        self.downloads += 1
        if params.get("tar_type") == "GZIP":
            return web.Response(body=gzip.compress(bill), content_type="application/x-gzip")
        return web.Response(body=bill, content_type="text/plain", charset="utf-8")

    @staticmethod
    def _v2_fail(message: str, code: str = "") -> web.Response:
        fields = {"return_code": "FAIL", "return_msg": message}
        if code:
            fields["error_code"] = code
        return xml_response(to_xml(fields))

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v3/bill/tradebill", self.v3.endpoint(self.tradebill)),
            web.get("/v3/billdownload/file", self.download),
            web.post("/pay/downloadbill", self.downloadbill),
        ]
