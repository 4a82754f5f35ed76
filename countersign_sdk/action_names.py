"""Action names built from names someone else chose (an MCP server's name and tool names, Claude Code's
tool names): always a valid action, never confusable with another name, and one-line text for
descriptions shown to approvers."""

from __future__ import annotations

import hashlib
import re
import unicodedata

PART_MAX = 64  # characters kept of one name
WHY_MAX = 300  # characters kept of a description's first line
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
_UNSAFE_DOTTED = re.compile(r"[^A-Za-z0-9_\-.]")


def action_part(name: str, *, dots: bool = True) -> str:
    """`name` when it is plain ASCII letters, digits, `_`, `-` (and `.` when allowed) of a sane length;
    otherwise a cleaned, cut version with a hash of the original, so that two different names never
    become the same action (`read\\x00file` must not turn into a policy's `read_file`)."""
    pattern = _UNSAFE_DOTTED if dots else _UNSAFE
    cleaned = pattern.sub("_", name)[:PART_MAX].strip(".") or "_"
    if cleaned == name:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned}~{digest}"


def first_line(text: str | None) -> str | None:
    """A description's first non-empty line as plain one-line text (no control, format or bidi characters)."""
    if not text:
        return None
    for line in text.splitlines():
        plain = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in line).strip()
        plain = " ".join(plain.split())
        if plain:
            return plain if len(plain) <= WHY_MAX else plain[: WHY_MAX - 1] + "…"
    return None
