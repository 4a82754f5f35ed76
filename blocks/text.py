"""Text helpers for Block Kit: agent text made inert for mrkdwn, cutting to limits, dates and people.

Every Slack builder shows agent-supplied text only through `code_span`, `code_block` or `agent_rows`, in
mrkdwn objects made by `mrkdwn` (verbatim: Slack parses no bare URL, @name or #channel in them).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject

from bot.clock import iso
from bot.display import Row, Rows, neutral, one_line
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


# A backtick would close a code span or block and let the rest format as mrkdwn; Slack has no escape for
# it inside code, so agent backticks are shown as a look-alike.
BACKTICK_STAND_IN = "\u02cb"  # ˋ


def escape(text: str) -> str:
    """Slack mrkdwn needs only &, < and > escaped; this also keeps agents from injecting mentions and links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code_safe(text: str) -> str:
    return escape(text).replace("`", BACKTICK_STAND_IN)


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn object Slack does not pre-process (no auto-links, no @name or #channel parsing)."""
    return MarkdownTextObject(text=text, verbatim=True)


def code_span(text: str, limit: int = 200) -> str:
    """A one-line agent string (action, agent, key, run id) as inert inline code."""
    shown = one_line(text, limit)
    return f"`{_code_safe(shown)}`" if shown.strip() else "` `"


def cut(text: str, limit: int, marker: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def code_block(text: str, limit: int = SECTION_TEXT_MAX) -> tuple[str, bool]:
    """A ``` block of inert agent text within `limit` characters; returns (mrkdwn, was_cut)."""
    body = _code_safe(neutral(text, multiline=True))
    room = limit - 8  # the fences and newlines
    if len(body) <= room:
        return f"```\n{body}\n```", False
    return f"```\n{cut(body, room)}\n```", True


ROW_VALUE_ESCAPED_MAX = 2400  # a row's value after escaping, so a whole row stays within one section


def _fit_escaped(text: str, limit: int) -> tuple[str, int]:
    """The code-safe form of the longest prefix of `text` that is at most `limit` characters once
    escaped (escaping can grow text 5×), and how many characters were left out."""
    size = 0
    for index, char in enumerate(text):
        size += len(_code_safe(char))
        if size > limit:
            return _code_safe(text[:index]), len(text) - index
    return _code_safe(text), 0


def more_characters(count: int) -> str:
    return f"… _({count:,} more characters)_" if count else ""


def row_line(row: Row, label: str | None = None) -> str:
    """One field: the agent's key in code (never one of our bold labels), then its value in code.
    `label` replaces the key with our own words for the fields our API defines (why, affected, …)."""
    flag = " :triangular_flag_on_post: _matched a policy rule_" if row.matched else ""
    name = f"*{label}*" if label else code_span(row.label)
    value, dropped = _fit_escaped(row.value, ROW_VALUE_ESCAPED_MAX)
    row = Row(row.label, row.value, row.cut + dropped, row.matched)
    if "\n" in row.value or len(row.value) > 120:
        shown = f"\n```\n{value or ' '}\n```"
    else:
        shown = f" `{value}`" if value.strip() else " ` `"
    return f"{name}{flag}:{shown}{more_characters(row.cut)}"


def pack(lines: list[str], limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Lines joined into as few texts of at most `limit` characters as they fit in (one line never split
    unless it alone is too long)."""
    texts: list[str] = []
    for line in lines:
        line = cut(line, limit)
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


def agent_rows(rows: Rows, labels: dict[str, str] | None = None) -> list[str]:
    """The mrkdwn lines for a set of rows; `labels` maps the keys our API defines to our words."""
    return [row_line(row, (labels or {}).get(row.label)) for row in rows.rows]


def code_chunks(text: str, size: int) -> list[str]:
    """Agent text of any length as ``` blocks of at most `size` characters each, nothing left out."""
    body = _code_safe(neutral(text, multiline=True))
    room = size - 8
    pieces: list[str] = []
    while body:
        end = min(len(body), room)
        amp = body.rfind("&", max(0, end - 5), end)  # do not split an entity such as &amp;
        if end < len(body) and amp != -1 and ";" not in body[amp:end]:
            end = amp
        pieces.append(body[:end])
        body = body[end:]
    return [f"```\n{piece}\n```" for piece in pieces or [" "]]


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
    return escape(one_line(actor.name or actor.id, 200))
