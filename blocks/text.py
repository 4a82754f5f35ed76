"""Text helpers for Block Kit: Slack escaping, cutting to limits, dates and people."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.clock import iso
from bot.models import Actor

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_TEXT_MAX = 75
MODAL_TITLE_MAX = 24
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
PRIVATE_METADATA_MAX = 3000
FALLBACK_TEXT_MAX = 3000


def escape(text: str) -> str:
    """Slack mrkdwn needs only &, < and > escaped; this also keeps agents from injecting mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def code_block(text: str, limit: int = SECTION_TEXT_MAX) -> tuple[str, bool]:
    """A ``` block of escaped text within `limit` characters; returns (mrkdwn, was_cut)."""
    body = escape(text)
    room = limit - 8  # the fences and newlines
    if len(body) <= room:
        return f"```\n{body}\n```", False
    return f"```\n{cut(body, room)}\n```", True


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """Slack renders this in the reader's own time zone; the fallback is UTC."""
    fallback = iso(moment).replace("T", " ")[:16] + " UTC"
    return f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>"


def person(actor: Actor) -> str:
    """How a decider appears in a message: a Slack mention, or the name and channel."""
    if actor.channel == "slack":
        return f"<@{actor.id}>"
    name = escape(actor.name or actor.id)
    if actor.channel == "policy":
        return f"the {name} rule" if actor.id == "policy" else name
    return f"{name} (via {actor.channel})"


def person_plain(actor: Actor) -> str:
    """A decider's name for plain text (no mentions), e.g. in an ephemeral notice."""
    return actor.name or actor.id
