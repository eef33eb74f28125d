"""Alert mail over SMTP (aiosmtplib) to a real aiosmtpd server on loopback, run on the
test's own event loop (port 0): one mail per transition, and a 451 answer retried by the
outbox until the mail is taken once."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.alerts.kit import add_rule, alert_hub, drain, new_clock, set_in_park, venue, worker
from tests.support import hub_of


class Inbox:
    """aiosmtpd handler: keeps what it accepts; ``busy`` answers 451 that many times."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.rcpt: list[list[str]] = []
        self.busy = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 try again later"
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        mail = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


@asynccontextmanager
async def smtp_server(inbox: Inbox) -> AsyncIterator[int]:
    import asyncio

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_mail_per_transition_and_retry(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    inbox = Inbox()
    async with smtp_server(inbox) as port:
        dest = {
            "ops-mail": {
                "sink": "mail",
                "host": "127.0.0.1",
                "port": port,
                "tls": "none",
                "sender": "tickethub@venue.example",
                "to": ["duty@venue.example", "chief@venue.example"],
            }
        }
        client = await alert_hub(aiohttp_client, db_url, clock, dest)
        hub = hub_of(client)
        await venue(client)
        await add_rule(client, destinations=["ops-mail"])
        w = worker(client)

        inbox.busy = 1
        await set_in_park(hub, 950)
        await hub.alerts.evaluate_now()
        await drain(w)
        assert inbox.mails == []  # 451: the outbox keeps it
        for _ in range(4):
            clock.advance(seconds=15)
            await drain(w)
        assert len(inbox.mails) == 1
        opened = inbox.mails[0]
        assert opened["Subject"] == "[告警] crowd"
        assert inbox.rcpt[0] == ["duty@venue.example", "chief@venue.example"]
        body = opened.get_body()
        assert body is not None and "950 / 1000" in body.get_content()

        await set_in_park(hub, 10)
        await hub.alerts.evaluate_now()
        await drain(w)
        assert [m["Subject"] for m in inbox.mails] == ["[告警] crowd", "[已恢复] crowd"]
        assert inbox.mails[0]["Message-ID"] != inbox.mails[1]["Message-ID"]
