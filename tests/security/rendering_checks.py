"""What "inert" means for a Slack payload, checked on what the emulators received (issue 9 §6).

Slack parses `<…>` as mentions and links, `*`, `_`, `~`, `>` as formatting, and auto-links bare URLs
unless a mrkdwn object is `verbatim`. Countersign puts every agent string inside code (a span or a block),
so outside code nothing the agent wrote may appear, and the only `<…>` left are our own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Our own angle-bracket tokens: Slack dates, our dashboard links, mentions of the policy's approvers.
OURS = re.compile(
    r"<!date\^\d+\^[^|>]*\|[^>]*>|<(?:https?://127\.0\.0\.1:3000|https://countersign\.example"
    r"\.com)/[^|>\s]*\|[^>]*>|<@U0(?:ADA|ALICE|GRACE)>"
)
HIDDEN = (
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\x1b",
    "\u0000",
    "\r",
    "\u2028",
    "\U000e0041",
)


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every Block Kit text object (mrkdwn or plain_text) anywhere in a payload."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node
        for value in node.values():
            yield from text_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from text_objects(item)


def outside_code(text: str) -> str:
    """`text` without its ``` blocks and ` spans, as Slack reads them (no escapes inside code)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", " ", text)


def assert_inert_mrkdwn(text: str, markers: tuple[str, ...]) -> None:
    rest = outside_code(text)
    for marker in markers:
        assert marker not in rest, f"agent text {marker!r} outside code in {text!r}"
    leftover = OURS.sub("", text)
    assert "<" not in leftover and ">" not in leftover, f"a raw < or > (mention or link) in {text!r}"
    for char in HIDDEN:
        assert char not in text, f"hidden character {char!r} in {text!r}"


def assert_inert_blocks(payload: Any, markers: tuple[str, ...]) -> int:
    """Every text object is inert; returns how many carried agent text (so a test knows it looked)."""
    carried = 0
    for obj in text_objects(payload):
        text = obj["text"]
        has_agent_text = any(m in text for m in markers)
        carried += has_agent_text
        if obj["type"] == "plain_text":
            assert not has_agent_text, f"agent text in plain_text (headers, buttons) {text!r}"
            continue
        if has_agent_text:
            assert obj.get("verbatim") is True, f"agent text in a non-verbatim mrkdwn object {text!r}"
        assert_inert_mrkdwn(text, markers)
    return carried
