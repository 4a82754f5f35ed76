"""What a request shows people, channel-agnostic: agent text made inert, and its fields as cut rows.

Every channel (Slack blocks, email, SMS) renders the same rows, so masking or ordering is changed here once.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.models import Approval

# Invisible or direction-changing characters an agent could use to make text read differently than it is:
# every control (Cc), format (Cf: bidi overrides, zero-width joiners, tag characters, soft hyphen) and
# line/paragraph separator (Zl, Zp) character becomes a visible `⟨U+XXXX⟩`.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn")
NEWLINE_MARK = "↵"
CUT_MARK = "…"


def neutral(text: str, multiline: bool = False) -> str:
    """`text` with hidden characters shown; newlines kept only when `multiline` (tabs become spaces)."""
    out: list[str] = []
    for char in text:
        if char == "\n" or char == "\r":
            if char == "\n":
                out.append("\n" if multiline else NEWLINE_MARK)
            elif not multiline:
                out.append(NEWLINE_MARK)
        elif char == "\t":
            out.append("    " if multiline else " ")
        elif unicodedata.category(char) in _HIDDEN_CATEGORIES:
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


def one_line(text: str, limit: int) -> str:
    """A name-like agent string (action, agent, key, run id) on one line, cut to `limit` characters."""
    shown, dropped = cut_value(neutral(text), limit)
    return shown + (CUT_MARK if dropped else "")


def cut_value(text: str, limit: int) -> tuple[str, int]:
    """(the first `limit` characters, how many were cut)."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def show_value(value: Any) -> str:
    """A JSON value as a person reads it: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True)
class Row:
    """One field of a request as shown: its path, its (possibly cut) value and what was cut."""

    label: str  # agent-chosen key path, already neutral and on one line
    value: str  # neutral, newlines kept
    cut: int  # characters cut from the value
    matched: bool = False  # a policy rule matched this field


@dataclass(frozen=True)
class Rows:
    rows: list[Row]
    more: int  # fields not shown (over the cap)


def matched_arg_paths(approval: Approval) -> list[str]:
    """The argument paths policy rules matched, from the classification's `args.<path>: …` reasons."""
    paths: list[str] = []
    for reason in approval.risk_reasons:
        if reason.startswith("args."):
            path = reason[len("args.") :].split(": ", 1)[0]
            if path and path not in paths:
                paths.append(path)
    return paths


_MISSING = object()


Path = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r'^[^.\[\]"]+$')


def _lookup(value: Any, path: str) -> tuple[Path, Any]:
    # The policy engine's path syntax: dotted keys, list indexes as numbers. Returns the object path the
    # rule actually read, so that only that leaf is moved first (not every field that prints alike).
    parts: list[str | int] = []
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
            parts.append(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
            parts.append(int(part))
        else:
            return (), _MISSING
    return tuple(parts), value


def label_of(path: Path) -> str:
    """A field's label. Keys that could read as a path (a dot, brackets, quotes, empty) are shown quoted, so
    `{"payment.amount": 1}` and `{"payment": {"amount": 1}}` never share a label."""
    label = ""
    for part in path:
        if isinstance(part, int):
            label += f".{part}" if label else str(part)
        elif _PLAIN_KEY.match(part):
            label += f".{part}" if label else part
        else:
            label += f"[{json.dumps(part, ensure_ascii=False)}]"
    return label


def _leaves(value: Any, path: Path, limit: int, out: list[tuple[Path, Any]]) -> None:
    """Containers whose JSON fits `limit` stay one field; bigger ones are opened, so that no cut can hide
    a nested value behind padding in a sibling."""
    if isinstance(value, dict | list) and value and len(show_value(value)) > limit:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            _leaves(child, (*path, key if isinstance(key, int) else str(key)), limit, out)
    else:
        out.append((path, value))


def _row(path: Path, value: Any, limit: int, label_limit: int, matched: bool) -> Row:
    shown, dropped = cut_value(neutral(show_value(value), multiline=True), limit)
    return Row(one_line(label_of(path) or '""', label_limit), shown, dropped, matched)


def _within(path: Path, shown: dict[Path, bool]) -> bool:
    """Whether a leaf is already on screen: the same field, or inside a matched value shown uncut."""
    return any(path == prefix or (path[: len(prefix)] == prefix and whole) for prefix, whole in shown.items())


def field_rows(
    values: dict[str, Any], limit: int, max_rows: int, first: list[str] | None = None, label_limit: int = 80
) -> Rows:
    """The fields of `values` one by one, each value cut on its own to `limit` characters; the paths in
    `first` (those a policy rule matched) lead; at most `max_rows` rows, the rest counted in `more`."""
    rows: list[Row] = []
    shown_paths: dict[Path, bool] = {}
    for dotted in first or []:
        path, value = _lookup(values, dotted)
        if value is not _MISSING and path not in shown_paths:
            row = _row(path, value, limit, label_limit, matched=True)
            rows.append(row)
            shown_paths[path] = row.cut == 0
    leaves: list[tuple[Path, Any]] = []
    for key, value in values.items():
        _leaves(value, (str(key),), limit, leaves)
    # A leaf already shown (or inside a shown value) is not repeated; anything else is shown or counted.
    rest = [(path, value) for path, value in leaves if not _within(path, shown_paths)]
    room = max(0, max_rows - len(rows))
    rows.extend(_row(path, value, limit, label_limit, matched=False) for path, value in rest[:room])
    return Rows(rows, max(0, len(rest) - room))


def arg_rows(approval: Approval, limit: int, max_rows: int) -> Rows:
    """The request's arguments as rows, rule-matched fields first: what every channel shows."""
    return field_rows(approval.args, limit, max_rows, matched_arg_paths(approval))


KNOWN_CONTEXT = ("why", "affected", "alternatives")
CONTEXT_LABELS = {"why": "Why", "affected": "Affected", "alternatives": "Alternatives"}


def context_rows(approval: Approval, limit: int, max_rows: int) -> Rows:
    """The context's free-text fields (why, affected, alternatives, then the agent's own keys) as rows;
    `reversible` is shown by each channel as a flag of its own."""
    known = {key: approval.context[key] for key in KNOWN_CONTEXT if approval.context.get(key)}
    extra = {key: value for key, value in approval.context.items() if key not in KNOWN_CONTEXT and key != "reversible"}
    rows = field_rows(known, limit, max_rows).rows
    others = field_rows(extra, limit, max(0, max_rows - len(rows)))
    return Rows(rows + others.rows, others.more)


def reversible_of(approval: Approval) -> bool | None:
    value = approval.context.get("reversible")
    return value if isinstance(value, bool) else None
