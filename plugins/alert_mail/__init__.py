"""E-mail over SMTP as an alert sink (aiosmtplib): ``{"sink": "mail", "host": …, "port":
587, "tls": "starttls"|"implicit"|"none", "username": …, "password": …, "sender": …,
"to": [...]}``. ``none`` is for a relay on the same host (and the tests' local server)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from hub.sdk import AlertSinkRegistry, DeliveryError, hookimpl
from hub.sdk.alerts import AlertMessage, SinkContext, required

__version__ = "0.1.0"


class MailSink:
    name = "mail"
    secret_fields: tuple[str, ...] = ("password",)

    def check(self, config: Mapping[str, Any]) -> None:
        required(config, "host", "sender", "to")
        if config.get("tls", "starttls") not in ("starttls", "implicit", "none"):
            raise ValueError("tls is starttls, implicit or none")
        if not isinstance(config["to"], list):
            raise ValueError("to is a list of addresses")

    def mail(self, message: AlertMessage, config: Mapping[str, Any]) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = str(config["sender"])
        mail["To"] = ", ".join(config["to"])
        mail["Subject"] = message.title
        # one Message-ID per alert transition: mail clients thread and drop duplicates
        step = f"{message.transition}.{message.reminder}"
        mail["Message-ID"] = f"<alert-{message.alert_id}-{step}@tickethub>"
        mail.set_content(message.text())
        return mail

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        tls = config.get("tls", "starttls")
        try:
            await aiosmtplib.send(
                self.mail(message, config),
                hostname=str(config["host"]),
                port=int(config.get("port", 465 if tls == "implicit" else 587)),
                username=config.get("username") or None,
                password=config.get("password") or None,
                use_tls=tls == "implicit",
                start_tls=tls == "starttls",
                timeout=10,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"mail refused: {exc}", retryable=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            retry = exc.code < 500  # 4xx: try again later; 5xx: refused for good
            raise DeliveryError(f"smtp {exc.code}", retryable=retry) from None


@hookimpl
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    registry.add(MailSink.name, MailSink(), default=True)
