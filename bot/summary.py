"""The five-second summary of a request every surface shows first, and what a modify changed — pure data.

Each channel (dashboard, Slack, email, SMS) renders `summarize(...)`'s fields with its own escaping; the
values here are plain text made inert by `bot.display.neutral`, never markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.display import CUT_MARK, label_of, matched_arg_paths, neutral, one_line, show_value
from bot.models import Approval, FieldChange

ACTION_MAX = 120
TEXT_MAX = 300
AMOUNT_ARG = re.compile(r"(amount|cost|price|total|usd|eur|gbp|fee|charge|payment|sum|value)", re.IGNORECASE)
_CURRENCY_KEYS = ("currency", "currency_code", "ccy")
_BOUNDS = {"gt": "over", "gte": "at least", "lt": "under", "lte": "at most", "eq": "exactly"}


@dataclass(frozen=True)
class Summary:
    """What matters first: every value is neutral plain text (the channel escapes it for its medium)."""

    kind: str  # "action" or "question"
    level: str
    status: str
    action: str  # the action name, on one line
    action_words: str  # the same in words: "payments.refund_charge" → "payments: refund charge"
    question: str | None
    amount: str | None  # "$2,650.75" (risk.cost_usd) or "1,200 EUR (args.amount)"
    affected: str | None
    reversible: bool | None
    agent: str
    on_behalf_of: str | None
    left: timedelta
    left_words: str
    urgency: str  # "ok", "soon" (under 25 % of the timeout left) or "urgent" (under 10 %)
    reasons: list[str] = field(default_factory=list)  # in words
    details: list[str] = field(default_factory=list)  # the classification's machine strings

    @property
    def reversible_words(self) -> str:
        return {True: "reversible", False: "NOT reversible", None: "reversibility not stated"}[self.reversible]

    @property
    def asked_by(self) -> str:
        return self.agent + (f" for {self.on_behalf_of}" if self.on_behalf_of else "")

    def one_liner(self, limit: int = 160) -> str:
        """The summary on one line (SMS, notifications): level, what, amount, reversibility, time left."""
        what = self.question if self.kind == "question" and self.question else self.action_words
        parts = [self.level.upper(), what]
        if self.amount:
            parts.append(self.amount)
        if self.reversible is False:
            parts.append("NOT reversible")
        parts.append(f"{self.left_words} left")
        line = " · ".join(parts)
        return line if len(line) <= limit else line[: limit - 1] + CUT_MARK


def urgency_key(approval: Approval) -> tuple[int, datetime]:
    """The order every queue shows (dashboard, Slack /approvals, App Home): highest level, soonest expiry."""
    return (-approval.risk_level.rank, approval.expires_at)


def words_of_action(action: str) -> str:
    """`payments.refund_charge` → `payments: refund charge` (the raw name is shown next to it)."""
    head, _, tail = action.rpartition(".")
    spoken = re.sub(r"[_\-]+", " ", tail).strip() or tail
    return f"{head}: {spoken}" if head else spoken


def left_words(left: timedelta) -> str:
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "no time"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def urgency(approval: Approval, now: datetime) -> str:
    total = (approval.expires_at - approval.created_at).total_seconds()
    left = (approval.expires_at - now).total_seconds()
    if total <= 0 or left <= total * 0.10:
        return "urgent"
    return "soon" if left <= total * 0.25 else "ok"


def money(amount: float, currency: str = "USD") -> str:
    """`$2,650.75`, `1,200 EUR`. The currency is agent text: only a three-letter code is shown."""
    number = f"{amount:,.2f}".removesuffix(".00")
    if currency.upper() == "USD":
        return f"${number}"
    return f"{number} {currency.upper()}" if re.fullmatch(r"[A-Za-z]{3}", currency) else number


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d[\d,]*(\.\d+)?\s*", value):
        return float(value.replace(",", ""))
    return None


def amount_of(approval: Approval) -> str | None:
    """`risk.cost_usd`, else a money-looking argument a policy rule named (`args.amount: gt 100`)."""
    cost = (approval.risk or {}).get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        return money(float(cost))
    for path in matched_arg_paths(approval):
        if not AMOUNT_ARG.search(path.rsplit(".", 1)[-1]):
            continue
        parent: Any = approval.args
        parts = path.split(".")
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        number = _number(parent.get(parts[-1]))
        if number is None:
            continue
        currency = next((parent[k] for k in _CURRENCY_KEYS if isinstance(parent.get(k), str)), None)
        shown = money(number, currency) if currency else money(number)
        return f"{shown} (args.{one_line(path, 60)})"
    return None


def _bound_words(spec: str) -> str:
    """`gt 100.0` → `over 100`; `regex '^prod'` → `matches '^prod'`; `in ['a', 'b']` → `is one of …`."""
    words: list[str] = []
    for part in spec.split(", "):
        name, _, value = part.partition(" ")
        if name in _BOUNDS:
            number = _number(value)
            shown = f"{number:g}" if number is not None else value
            words.append(f"{_BOUNDS[name]} {shown}")
        elif name == "ne":
            words.append(f"not {value}")
        elif name in ("in", "in_"):
            words.append(f"one of {value}")
        elif name == "regex":
            words.append(f"matching {value}")
        elif name == "exists":
            words.append("present" if value == "True" else "absent")
        else:
            words.append(part)
    return " and ".join(words)


def reason_words(reason: str) -> str:  # noqa: C901 -- one flat case per reason form
    """One classification reason (a machine string the policy engine wrote) in words."""
    key, _, rest = reason.partition(": ")
    if key == "cost_usd":
        match = re.fullmatch(r"([\d.e+]+) \((.*)\)", rest)
        if match:
            amount, bound = float(match.group(1)), match.group(2)
            limit = re.match(r"(gt|gte|lt|lte|eq) ([\d.e+]+)", bound)
            if limit:
                return f"costs {money(amount)} — {_BOUNDS[limit.group(1)]} the {money(float(limit.group(2)))} limit"
            return f"costs {money(amount)}"
    if key == "default_level":
        return f"no policy rule matched: the default level is {rest}"
    if key == "agent risk.level":
        return f"the agent rated it {rest} risk itself"
    if key == "action":
        return f"a policy rule covers the action {rest}"
    if key == "agent":
        return f"a policy rule covers requests from agent {rest}"
    if key.startswith("args.") and rest:
        return f"argument {key[len('args.') :]} is {_bound_words(rest)}"
    if key == "data_sensitivity":
        return f"the agent marks the data as {rest}"
    if key == "reversible":
        return "it cannot be undone" if rest == "false" else "it can be undone"
    if key == "sql":
        return "SQL " + rest.replace("without WHERE", "without WHERE (every row)")
    if reason.startswith("denied by rule "):
        return f"the policy refuses it ({reason[len('denied by ') :]})"
    return reason


_RULE_KEYS = ("cost_usd", "action", "agent", "args.", "data_sensitivity", "reversible")


def summarize(approval: Approval, now: datetime, rules: list[str] | None = None) -> Summary:
    """The summary of `approval` (pass the copy for humans: its masked values stay masked). `rules`: the
    policy rules that matched (the stored route's); with one, its reasons name it."""
    left = approval.expires_at - now
    question = approval.args.get("message") if approval.kind == "question" else None
    affected = approval.context.get("affected")
    reasons = []
    for reason in approval.risk_reasons:
        words = reason_words(reason)
        if rules and len(rules) == 1 and reason.startswith(_RULE_KEYS):
            words += f" (rule {rules[0]})"
        reasons.append(one_line(words, TEXT_MAX))
    return Summary(
        kind=approval.kind,
        level=approval.risk_level.value,
        status=approval.status.value,
        action=one_line(approval.action, ACTION_MAX),
        action_words=one_line(words_of_action(approval.action), ACTION_MAX),
        question=neutral(question, multiline=True)[:4000] if isinstance(question, str) else None,
        amount=amount_of(approval),
        affected=one_line(show_value(affected), TEXT_MAX) if affected not in (None, "") else None,
        reversible=_reversible(approval),
        agent=one_line(approval.agent, ACTION_MAX),
        on_behalf_of=one_line(approval.requested_by, ACTION_MAX) if approval.requested_by else None,
        left=left,
        left_words=left_words(left),
        urgency=urgency(approval, now),
        reasons=list(dict.fromkeys(reasons)),
        details=[one_line(r, TEXT_MAX) for r in approval.risk_reasons],
    )


def _reversible(approval: Approval) -> bool | None:
    for value in (approval.context.get("reversible"), (approval.risk or {}).get("reversible")):
        if isinstance(value, bool):
            return value
    return None


# -- what a modify changed -------------------------------------------------------------------------
_ABSENT = object()


@dataclass(frozen=True)
class Change:
    """One field a modify changed: `old`/`new` are None with `change` "added"/"removed"."""

    path: str
    change: str  # "changed", "added" or "removed"
    old: Any
    new: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


def _walk(old: Any, new: Any, path: tuple[str | int, ...], out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, str(key)), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, (*path, index), out)
        return
    if old is _ABSENT:
        out.append(Change(label_of(path), "added", None, new))
    elif new is _ABSENT:
        out.append(Change(label_of(path), "removed", old, None))
    elif old != new or type(old) is not type(new):
        out.append(Change(label_of(path), "changed", old, new))


def changes(old: dict[str, Any], new: dict[str, Any] | None) -> list[Change]:
    """Field by field, what `new` changed in `old` (dict keys in their order, lists index by index)."""
    if new is None:
        return []
    out: list[Change] = []
    _walk(old, new, (), out)
    return out


def modify_changes(approval: Approval) -> list[Change]:
    """What the deciding modify changed, or [] (for the masked copy, masked values compare as masks)."""
    decision = approval.decision
    if decision is None or decision.outcome != "modify":
        return []
    return changes(approval.args, decision.args)


def with_changes(approval: Approval) -> Approval:
    """`approval` with `decision.changes` filled when it was modified (the agent's and approver keys' view)."""
    found = modify_changes(approval)
    if not found or approval.decision is None:
        return approval
    listed = [FieldChange.model_validate(change.as_json()) for change in found]
    return approval.model_copy(update={"decision": approval.decision.model_copy(update={"changes": listed})})


def changes_sentence(approval: Approval, limit: int = 300) -> str:
    """` with changes: replicas: 12 → 4; + dry_run: true` for a modified decision, else ``."""
    found = modify_changes(approval)
    if not found:
        return ""
    text = " with changes: " + "; ".join(change_line(c, 60) for c in found)
    return text if len(text) <= limit else text[: limit - 1] + CUT_MARK


def change_line(change: Change, limit: int = 120) -> str:
    """`replicas: 12 → 4`, `+ dry_run: true`, `− force` as neutral plain text."""
    label = one_line(change.path or '""', 80)
    if change.change == "added":
        return f"+ {label}: {one_line(show_value(change.new), limit)}"
    if change.change == "removed":
        return f"− {label} (was {one_line(show_value(change.old), limit)})"
    return f"{label}: {one_line(show_value(change.old), limit)} → {one_line(show_value(change.new), limit)}"
