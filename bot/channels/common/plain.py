"""Agent text for plain-text channels (the email's text part, SMS): every agent line behind a quote mark.

A line that does not start with `AGENT_QUOTE` is ours; an agent cannot start one (a newline in its text
starts another quoted line), so it cannot write a line such as "Approve: https://…" that reads like ours.
"""

from __future__ import annotations

from bot.display import Row, Rows, neutral, one_line

AGENT_QUOTE = "| "


def quoted(text: str) -> list[str]:
    """`text` as quoted lines, hidden characters shown."""
    return [AGENT_QUOTE + line for line in neutral(text, multiline=True).split("\n")]


def row_lines(row: Row, label: str | None = None) -> list[str]:
    """One field: the agent's `key = value` quoted (or our `label:` then the value quoted), our notes
    (rule matched, how much was cut) on lines of their own."""
    if label:
        lines = [f"{label}:", *quoted(row.value)]
    else:
        first, *rest = neutral(row.value, multiline=True).split("\n")
        lines = [f"{AGENT_QUOTE}{row.label} = {first}", *(f"{AGENT_QUOTE}    {line}" for line in rest)]
    if row.matched:
        lines.append("  ^ a policy rule matched this field")
    if row.cut:
        lines.append(f"  ^ cut: {row.cut:,} more characters not shown")
    return lines


def rows_lines(rows: Rows, labels: dict[str, str] | None = None) -> list[str]:
    lines = [line for row in rows.rows for line in row_lines(row, (labels or {}).get(row.label))]
    if rows.more:
        lines.append(f"  … and {rows.more} more fields not shown: open the request (link below)")
    return lines


def sms_item(row: Row, limit: int) -> str:
    """`key=value` for an SMS, the value cut to `limit` characters."""
    value = one_line(row.value, limit)
    return f"{row.label}={value}{'…' if row.cut and not value.endswith('…') else ''}"
