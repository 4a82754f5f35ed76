"""SMTP: SMTP_URL parsing and sending one message (the request mail and the dashboard's sign-in mail)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from bot.channels.common import DeliveryError
from bot.errors import ConfigError

SMTP_TIMEOUT_S = 20


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # smtps:// — TLS from the first byte
    starttls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError("SMTP_URL: expected smtp://user:pass@host:port or smtps://… (?starttls=1)")
        query = parse_qs(parts.query)
        starttls = (query.get("starttls") or ["0"])[0].lower() in ("1", "true", "yes")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ConfigError("SMTP_URL: the port is not a number") from None
        return cls(
            parts.hostname,
            port,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
            parts.scheme == "smtps",
            starttls,
        )


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    """Blocking: call it from a thread. Raises DeliveryError unless the server accepted the message."""
    try:
        smtp: smtplib.SMTP
        if config.tls:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=SMTP_TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_S)
        with smtp:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password or "")
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {config.host}:{config.port}: {exc}") from exc
    if refused:
        raise DeliveryError(f"SMTP refused {', '.join(refused)}")
