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

from bot.display import CONTEXT_LABELS, Row, arg_rows, context_rows, cut_value, neutral, one_line, reversible_of
from bot.errors import ConfigError
from bot.models import Approval
from bot.notify import DeliveryError
from bot.notify.plain import quoted, rows_lines

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


EMAIL_VALUE_MAX = 2000  # characters of one argument or context value
EMAIL_ROWS_MAX = 40
EMAIL_SQL_MAX = 5000


def _html_row(row: Row, label: str | None = None) -> dict[str, Any]:
    return {"label": label, "key": row.label, "value": row.value, "cut": row.cut, "matched": row.matched}


def render_request_email(approval: Approval, links: EmailLinks, reminder: bool) -> RenderedEmail:
    """Both parts show the agent's text apart from ours: the text part quotes every agent line with "| "
    and keeps our links in a block of their own; the HTML part puts it in a box marked as the agent's."""
    args = arg_rows(approval, EMAIL_VALUE_MAX, EMAIL_ROWS_MAX)
    context = context_rows(approval, EMAIL_VALUE_MAX, EMAIL_ROWS_MAX)
    sql, sql_cut = cut_value(neutral(approval.sql or "", multiline=True), EMAIL_SQL_MAX)
    identity = [("Action", approval.action), ("Agent", approval.agent), ("Requested by", approval.requested_by),
                ("Run", approval.run_id)]
    values: dict[str, Any] = {
        "approval_id": approval.id, "links": links, "reminder": reminder,
        "level": approval.risk_level.value.upper(),
        "expires": approval.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "reversible": reversible_of(approval),
        # The text part: every agent line already quoted.
        "identity_lines": [line for label, value in identity if value
                           for line in [f"{label}:", *quoted(value)]],
        "context_lines": rows_lines(context, CONTEXT_LABELS),
        "args_lines": rows_lines(args),
        "risk_lines": [line for reason in approval.risk_reasons for line in quoted(reason)],
        "sql_lines": quoted(sql) if approval.sql else [],
        # The HTML part (autoescaped): the same, neutral, as values.
        "identity": [(label, neutral(value)) for label, value in identity if value],
        "context_rows": [_html_row(row, CONTEXT_LABELS.get(row.label)) for row in context.rows],
        "context_more": context.more,
        "arg_rows": [_html_row(row) for row in args.rows], "args_more": args.more,
        "args_matched": any(row.matched for row in args.rows),
        "risk_reasons": [neutral(reason) for reason in approval.risk_reasons],
        "sql": sql, "sql_cut": sql_cut,
    }
    prefix = "Reminder: " if reminder else ""
    subject = (f"{prefix}[{values['level']}] Approval needed: {one_line(approval.action, 80)} "
               f"from {one_line(approval.agent, 60)}")
    return RenderedEmail(subject, _environment.get_template("request_email.txt.j2").render(values),
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
