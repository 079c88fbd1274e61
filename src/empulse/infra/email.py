"""Email delivery: a local outbox (one .eml file per message, the embedded default) or SMTP
(any provider; Resend through its SMTP relay). Callers never send inside a request: they enqueue
a `send_email` job, which calls `Mailer.send`."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from empulse.config import Settings, SmtpSettings
from empulse.core.crypto import Sealer
from empulse.core.logging import get_logger
from empulse.infra import jobs

log = get_logger("empulse.email")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str


def mask_address(address: str) -> str:
    """`a***@example.com`: enough to tell messages apart in logs, not enough to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class Mailer(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> None: ...


class OutboxMailer:
    name = "outbox"

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    async def send(self, email: OutgoingEmail) -> None:
        data = build_message(email, self.sender).as_bytes()
        await anyio.to_thread.run_sync(self._write, data)

    def _write(self, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        final = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        # Written whole, then renamed: a reader never sees half a message.
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, final)


class SmtpMailer:
    name = "smtp"

    def __init__(self, smtp: SmtpSettings, sender: str) -> None:
        self.smtp = smtp
        self.sender = sender

    async def send(self, email: OutgoingEmail) -> None:
        try:
            await aiosmtplib.send(
                build_message(email, self.sender),
                hostname=self.smtp.host,
                port=self.smtp.port,
                username=self.smtp.username,
                password=self.smtp.password,
                use_tls=self.smtp.security == "tls",
                start_tls=self.smtp.security == "starttls",
                timeout=15,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({refusal.code for refusal in exc.recipients})
            if all(code >= 500 for code in codes):
                # A permanent refusal (RFC 5321 5yz: no such mailbox, say): sending again
                # would be refused again, and repeated 5yz attempts hurt the sender's standing.
                # The server's text names the address; the error keeps only the codes.
                refused = f"the mail server refused the recipient ({codes})"
                raise jobs.PermanentJobError(refused) from None
            raise


def create_mailer(settings: Settings) -> Mailer:
    if settings.smtp is not None:
        return SmtpMailer(settings.smtp, settings.email_from)
    return OutboxMailer(settings.outbox_dir, settings.email_from)


SEND_EMAIL = "send_email"


def enqueue_email(session: AsyncSession, sealer: Sealer, email: OutgoingEmail) -> None:
    """Send `email` after the caller's transaction commits, retried until delivered.

    The job row is sealed (AES-GCM): it may carry a reset or verification link, and the jobs
    table is not a place for live credentials."""
    plaintext = json.dumps(
        {"to": email.to, "subject": email.subject, "text": email.text, "html": email.html}
    ).encode()
    jobs.enqueue(session, SEND_EMAIL, {"sealed": sealer.seal(plaintext, SEND_EMAIL.encode())})


class EmailContext(Protocol):
    mailer: Mailer
    job_sealer: Sealer


async def send_email(context: EmailContext, payload: dict[str, Any]) -> None:
    fields = json.loads(context.job_sealer.open(payload["sealed"], SEND_EMAIL.encode()))
    email = OutgoingEmail(**fields)
    await context.mailer.send(email)
    log.info(
        "email_sent", to=mask_address(email.to), subject=email.subject, backend=context.mailer.name
    )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    sent_at: str
    to: str
    subject: str
    links: list[str]


_LINK = re.compile(r"https?://[^\s<>\"']+")


def read_outbox(directory: Path, limit: int) -> list[OutboxMessage]:
    """The newest `limit` messages of the local outbox, newest first, with the links of their
    text part (decoded: no quoted-printable soft breaks, no HTML entities)."""
    if not directory.is_dir():
        return []
    newest = sorted(directory.glob("*.eml"), reverse=True)[:limit]
    messages = []
    for path in newest:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        messages.append(
            OutboxMessage(
                sent_at=str(message["Date"] or ""),
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                links=list(dict.fromkeys(_LINK.findall(text))),
            )
        )
    return messages
