"""Mails a sign-in link through SMTP_URL (smtplib in a worker thread, so the event loop never blocks)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from bot.errors import ConfigError


def parse_smtp_url(url: str) -> tuple[str, str, int, str | None, str | None, bool]:
    """smtp://[user:pass@]host[:port][?starttls=1] or smtps://…

    → (scheme, host, port, user, password, starttls)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("SMTP_URL: expected smtp://[user:pass@]host[:port] or smtps://…")
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    return (parts.scheme, parts.hostname, port, unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None, starttls)


def _send(url: str, message: EmailMessage) -> None:
    scheme, host, port, user, password, starttls = parse_smtp_url(url)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=15, context=context) if scheme == "smtps"
                          else smtplib.SMTP(host, port, timeout=15))
    with smtp:
        if starttls:
            smtp.starttls(context=context)
        if user:
            smtp.login(user, password or "")
        smtp.send_message(message)


def login_message(sender: str, to: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Your Countersign sign-in link"
    message.set_content(
        "Open this link to sign in to the Countersign dashboard:\n\n"
        f"{link}\n\n"
        "It works once and expires in 15 minutes. If you did not ask for it, ignore this message.\n"
    )
    return message


async def send_login_link(smtp_url: str, sender: str, to: str, link: str) -> None:
    await asyncio.to_thread(_send, smtp_url, login_message(sender, to, link))
