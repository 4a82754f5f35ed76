"""Email: SMTP_URL parsing, the request message rendered from Jinja2 templates, and sending it."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.errors import ConfigError
from bot.models import Approval
from bot.notify import DeliveryError

SMTP_TIMEOUT_S = 20
_environment = Environment(
    loader=PackageLoader("bot.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


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
        return cls(parts.hostname, port, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, parts.scheme == "smtps", starttls)


@dataclass(frozen=True)
class EmailLinks:
    approve: str
    reject: str
    review: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def context_fields(approval: Approval) -> dict[str, Any]:
    """The request's context with the known keys always present (templates are strict about names)."""
    return {"why": None, "affected": None, "reversible": None, "alternatives": None, **approval.context}


def render_request_email(approval: Approval, links: EmailLinks, reminder: bool) -> RenderedEmail:
    values: dict[str, Any] = {
        "approval": approval, "context": context_fields(approval), "links": links, "reminder": reminder,
        "level": approval.risk_level.value.upper(),
        "expires": approval.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "args_lines": [f"{name} = {value!r}" for name, value in approval.args.items()],
    }
    prefix = "Reminder: " if reminder else ""
    subject = f"{prefix}[{values['level']}] {approval.agent} asks to run {approval.action}"
    return RenderedEmail(subject[:200], _environment.get_template("request_email.txt.j2").render(values),
                         _environment.get_template("request_email.html.j2").render(values))


def build_message(sender: str, recipient: str, rendered: RenderedEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "countersign")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    """Blocking: call it from a thread. Raises DeliveryError unless the server accepted the message."""
    try:
        smtp: smtplib.SMTP
        if config.tls:
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT_S,
                                    context=ssl.create_default_context())
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
