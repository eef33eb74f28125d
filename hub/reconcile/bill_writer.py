"""Write a WeChat ALL trade bill in the real format (backtick fields, yuan, summary last).

The bench and the tests build their statements with it, so the parser is exercised on
the format, not on a shortcut; the sandbox will serve its bills with it too."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hub.reconcile.wechat_bill import CHINA, COLUMNS, SUMMARY

FEE_RATE = Decimal("0.006")


@dataclass(frozen=True, slots=True)
class Txn:
    at: datetime
    out_trade_no: str
    amount: int  # fen
    transaction_id: str
    state: str = "SUCCESS"  # SUCCESS | REVOKED | REFUND
    out_refund_no: str = ""
    refund_id: str = ""


def _fee(fen: int) -> Decimal:
    return (Decimal(fen) / 100 * FEE_RATE).quantize(Decimal("0.00001"))


def render(txns: list[Txn], merchant: str, appid: str = "wx0000000000000000") -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(COLUMNS)
    sums = {
        c: Decimal(0) for c in ("应结订单金额", "退款金额", "手续费", "订单金额", "申请退款金额")
    }
    for t in txns:
        refund = t.state == "REFUND"
        paid = Decimal(0) if refund else Decimal(t.amount) / 100
        back = Decimal(t.amount) / 100 if refund else Decimal(0)
        fee = -_fee(t.amount) if refund else _fee(t.amount)
        row = {
            "交易时间": t.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "公众账号ID": appid,
            "商户号": merchant,
            "特约商户号": "0",
            "设备号": "",
            "微信订单号": t.transaction_id,
            "商户订单号": t.out_trade_no,
            "用户标识": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "交易类型": "JSAPI",
            "交易状态": t.state,
            "付款银行": "CMB_DEBIT",
            "货币种类": "CNY",
            "应结订单金额": f"{paid:.2f}",
            "代金券金额": "0.00",
            "微信退款单号": t.refund_id or ("0" if not refund else ""),
            "商户退款单号": t.out_refund_no or "0",
            "退款金额": f"{back:.2f}",
            "充值券退款金额": "0.00",
            "退款类型": "ORIGINAL" if refund else "",
            "退款状态": "SUCCESS" if refund else "",
            "商品名称": "门票",
            "商户数据包": "",
            "手续费": f"{fee:.5f}",
            "费率": "0.60%",
            "订单金额": f"{paid:.2f}",
            "申请退款金额": f"{back:.2f}",
            "费率备注": "",
        }
        sums["应结订单金额"] += paid
        sums["退款金额"] += back
        sums["手续费"] += fee
        sums["订单金额"] += paid
        sums["申请退款金额"] += back
        out.writerow(["`" + row[c] for c in COLUMNS])
    out.writerow(SUMMARY)
    out.writerow(
        [
            f"`{len(txns)}",
            f"`{sums['应结订单金额']:.2f}",
            f"`{sums['退款金额']:.2f}",
            "`0.00",
            f"`{sums['手续费']:.5f}",
            f"`{sums['订单金额']:.2f}",
            f"`{sums['申请退款金额']:.2f}",
        ]
    )
    return buf.getvalue().encode("utf-8")
