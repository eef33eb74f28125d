"""A last line of defence for personal data in logs.

Code should never log ID numbers, phone numbers or faces — and does not mean to. This
filter masks anything that LOOKS like a mainland ID number, a mobile number or a JPEG
(a face photo as a bytes repr, base64 or hex) in every record that reaches the hub's
handlers, so a careless log line or a library's error message (a constraint violation
echoing a row, say) does not leak one."""

from __future__ import annotations

import logging
import re

from hub.domain.masking import mask_id, mask_phone

_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# A JPEG starts FF D8 FF: as a bytes repr (b'\xff\xd8\xff…'), base64 (/9j/…) or hex.
_JPEG = re.compile(
    r"""b(['"])\\xff\\xd8(?:\\.|(?!\1).)*(?:\1|$)"""
    r"|/9j/[A-Za-z0-9+/=]{16,}"
    r"|(?i:ffd8ff[0-9a-f]{16,})",
    re.DOTALL,
)


def mask_text(text: str) -> str:
    text = _JPEG.sub("<jpeg masked>", text)
    text = _ID.sub(lambda m: mask_id(m.group(0)) or "", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)) or "", text)


class MaskPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install(handler: logging.Handler | None = None) -> None:
    """Attach the filter to the given handler, or to every handler of the root logger."""
    handlers = [handler] if handler else logging.getLogger().handlers
    for h in handlers:
        if not any(isinstance(f, MaskPersonalData) for f in h.filters):
            h.addFilter(MaskPersonalData())
