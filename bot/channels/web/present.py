"""How the dashboard lays a request out: context order, SQL formatted with its dangerous words marked,
the queue's urgency order. Values stay plain text; the templates escape them."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import sqlglot
from sqlglot.errors import SqlglotError

from bot.display import one_line, show_value
from bot.models import Approval, RiskLevel
from bot.summary import Change, urgency_key

# sqlglot logs the SQL it could not parse: agent text has no place in our logs.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

CONTEXT_ORDER = ("why", "affected", "reversible", "alternatives")
PRETTY_SQL_MAX = 20_000  # longer SQL is shown as sent: formatting is work done on agent input
_DANGER = re.compile(
    r"\b(DROP|TRUNCATE|DELETE|UPDATE|ALTER|GRANT|REVOKE|INSERT|MERGE|REPLACE|CREATE|COPY|"
    r"EXEC|EXECUTE|CALL|LOCK|FOR UPDATE|WHERE)\b",
    re.IGNORECASE,
)
# Comments are where SQL hides things (MySQL runs `/*! … */`): such SQL is shown exactly as sent.
_COMMENT = re.compile(r"/\*|--|#")
SORTS = {"urgency": "most urgent first", "newest": "newest first"}


def context_items(context: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(key, text, is_json): why, affected, reversible, alternatives first, then the agent's own keys."""
    keys = [k for k in CONTEXT_ORDER if k in context] + [k for k in context if k not in CONTEXT_ORDER]
    items = []
    for key in keys:
        value = context[key]
        if isinstance(value, str):
            items.append((key, value, False))
        elif isinstance(value, bool):
            items.append((key, "yes" if value else "NO — it cannot be undone", False))
        else:
            items.append((key, json.dumps(value, indent=2, ensure_ascii=False), True))
    return items


def diff_rows(found: list[Change]) -> list[tuple[str, str, str, str]]:
    """(path, change, old, new) as text a person reads: strings as they are (the template escapes them)."""
    return [
        (one_line(c.path or '""', 200), c.change, one_line(show_value(c.old), 500), one_line(show_value(c.new), 500))
        for c in found
    ]


def sql_segments(sql: str) -> tuple[list[tuple[str, bool]], bool]:
    """(segments of (text, dangerous), formatted): the SQL pretty-printed when that is safe to show, its
    writing and permission keywords marked; shown as sent when it holds comments, is long or won't parse."""
    text, formatted = sql, False
    if len(sql) <= PRETTY_SQL_MAX and not _COMMENT.search(sql):
        try:
            text = ";\n\n".join(sqlglot.transpile(sql, pretty=True))
            formatted = True
        except (SqlglotError, ValueError, RecursionError):
            text = sql
    segments: list[tuple[str, bool]] = []
    at = 0
    for match in _DANGER.finditer(text):
        if match.group(0).upper() == "WHERE":
            continue  # WHERE narrows a write; only its absence is a danger, and the summary says so
        segments.append((text[at : match.start()], False))
        segments.append((match.group(0), True))
        at = match.end()
    segments.append((text[at:], False))
    return [s for s in segments if s[0]], formatted


def by_urgency(items: list[Approval]) -> list[Approval]:
    return sorted(items, key=urgency_key)


def needs_confirmation(levels: list[RiskLevel]) -> bool:
    """A batch that includes a high or critical request needs a typed reason and a second look."""
    return any(level.rank >= RiskLevel.high.rank for level in levels)
