"""Email: the request message rendered from Jinja2 templates (bot/channels/common/smtp.py sends it)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.channels.common.plain import quoted, rows_lines
from bot.display import CONTEXT_LABELS, Row, arg_rows, context_rows, cut_value, neutral, one_line, reversible_of
from bot.models import Approval
from bot.summary import summarize

_environment = Environment(
    loader=PackageLoader("bot.channels.email", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


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
    identity = [
        ("Action", approval.action),
        ("Agent", approval.agent),
        ("Requested by", approval.requested_by),
        ("Run", approval.run_id),
    ]
    facts = summarize(approval, approval.created_at)
    # The summary: our labels; every value that holds agent text is quoted ("| ") in the text part.
    summary_agent = [
        (label, value)
        for label, value in (
            ("Question" if facts.kind == "question" else "Action", facts.question or facts.action),
            ("Amount", facts.amount),
            ("Affects", facts.affected),
            ("Asked by", facts.asked_by),
        )
        if value
    ]
    values: dict[str, Any] = {
        "facts": facts,
        "summary_lines": [line for label, value in summary_agent for line in [f"{label}:", *quoted(value)]],
        "summary_rows": summary_agent,
        "reason_lines": [line for reason in facts.reasons for line in quoted(reason)],
        "approval_id": approval.id,
        "links": links,
        "reminder": reminder,
        "level": approval.risk_level.value.upper(),
        "expires": approval.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "reversible": reversible_of(approval),
        # The text part: every agent line already quoted.
        "identity_lines": [line for label, value in identity if value for line in [f"{label}:", *quoted(value)]],
        "context_lines": rows_lines(context, CONTEXT_LABELS),
        "args_lines": rows_lines(args),
        "risk_lines": [line for reason in approval.risk_reasons for line in quoted(reason)],
        "sql_lines": quoted(sql) if approval.sql else [],
        # The HTML part (autoescaped): the same, neutral, as values.
        "identity": [(label, neutral(value)) for label, value in identity if value],
        "context_rows": [_html_row(row, CONTEXT_LABELS.get(row.label)) for row in context.rows],
        "context_more": context.more,
        "arg_rows": [_html_row(row) for row in args.rows],
        "args_more": args.more,
        "args_matched": any(row.matched for row in args.rows),
        "risk_reasons": [neutral(reason) for reason in approval.risk_reasons],
        "sql": sql,
        "sql_cut": sql_cut,
    }
    prefix = "Reminder: " if reminder else ""
    subject = (
        f"{prefix}[{values['level']}] Approval needed: {one_line(approval.action, 80)} "
        f"from {one_line(approval.agent, 60)}"
    )
    return RenderedEmail(
        subject,
        _environment.get_template("request_email.txt.j2").render(values),
        _environment.get_template("request_email.html.j2").render(values),
    )


BATCH_VALUE_MAX = 300  # characters of one argument value in a batch: the request's page shows the rest
BATCH_ROWS_MAX = 10


def _batch_item(approval: Approval, links: EmailLinks) -> dict[str, Any]:
    identity = [("Action", approval.action), ("Agent", approval.agent), ("Requested by", approval.requested_by)]
    args = arg_rows(approval, BATCH_VALUE_MAX, BATCH_ROWS_MAX)
    return {
        "id": approval.id,
        "level": approval.risk_level.value.upper(),
        "expires": approval.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        "links": links,
        "identity_lines": [line for label, value in identity if value for line in [f"{label}:", *quoted(value)]],
        "args_lines": rows_lines(args),
        "identity": [(label, neutral(value)) for label, value in identity if value],
        "arg_rows": [_html_row(row) for row in args.rows],
    }


def render_batch_email(items: list[tuple[Approval, EmailLinks]], reminder: bool) -> RenderedEmail:
    """Several requests due for one person in one window, most urgent first (the caller orders them), each
    with its own links; agent text quoted and neutral as in the single message."""
    if len(items) == 1:
        return render_request_email(items[0][0], items[0][1], reminder)
    values = {"items": [_batch_item(approval, links) for approval, links in items], "reminder": reminder}
    top = items[0][0].risk_level.value.upper()
    prefix = "Reminder: " if reminder else ""
    return RenderedEmail(
        f"{prefix}[{top}] {len(items)} approvals need you",
        _environment.get_template("batch_email.txt.j2").render(values),
        _environment.get_template("batch_email.html.j2").render(values),
    )


def build_message(sender: str, recipient: str, rendered: RenderedEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "countersign")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
