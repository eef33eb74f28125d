"""What the handheld screen says about a decision: Chinese first, English second.

The decider explains a refusal in short English for turnstile displays; staff on the
venue's phones read Chinese. One line per entry denial code the bridge can give; a code
without a line (a rule plugin's own) still shows the decider's English under a general
Chinese refusal, never nothing.
"""

from __future__ import annotations

from hardware_bridge.decide import UNKNOWN_DEVICE
from hub.domain.errors import DenialCode

ADMITTED = ("验证通过，请入园", "Admitted")
MANUAL = ("人工放行已记录", "Manual admission recorded")
INVALID_ID = ("身份证号无效（位数或校验位错误）", "Invalid ID number (length or check digit)")

_ZH: dict[str, str] = {
    DenialCode.UNKNOWN_TICKET: "无此票，或票未同步到本站",
    DenialCode.BAD_CREDENTIAL: "二维码无效或已被篡改",
    DenialCode.TICKET_REVOKED: "票已退或已作废",
    DenialCode.WRONG_VENUE: "非本景区门票",
    DenialCode.NOT_VALID_TODAY: "不在有效日期内",
    DenialCode.OUTSIDE_ENTRY_WINDOW: "不在入园时段内",
    DenialCode.ENTRIES_PER_DAY_EXCEEDED: "今日入园次数已用完（重复使用）",
    DenialCode.ENTRIES_EXHAUSTED: "票已使用（重复使用）",
    DenialCode.RULE_DENIED: "不符合入园规则",
    UNKNOWN_DEVICE: "未登记的设备",
}


def explain(allow: bool, code: str, reason: str) -> tuple[str, str]:
    """(Chinese, English) for the screen."""
    if allow:
        return MANUAL if code == "MANUAL" else ADMITTED
    return _ZH.get(code, "拒绝入园"), reason
