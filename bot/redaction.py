"""Masks secret argument values (passwords, tokens, Authorization headers) before they leave for a person.

One pure function, `redact`, replaces every value whose key matches a rule with `***hmac-sha256:<hex>`:
an HMAC of the value's canonical JSON under a key derived from the server's secret key. A plain SHA-256
of a short password could be reversed by trying a dictionary; the HMAC cannot be without the key, while
whoever holds the key can still prove which value was approved. `restore` maps placeholders an approver
left untouched in a modify back to the stored values.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.jsonutil import canonical
from bot.models import Approval, AuditEvent

MASK_PREFIX = "***hmac-sha256:"
# Used when a policy has no `redact:` key.
DEFAULT_RULES = ("*password*", "*secret*", "*token*", "*api_key*", "authorization", "cookie")
# Audit entry details that hold argument objects.
AUDIT_ARG_FIELDS = ("args", "original_args")


@dataclass(frozen=True)
class RedactionRules:
    """Key-name globs (matched at any depth) and dotted paths from the top of the arguments (each part a
    glob; list indices are not part of a path). Everything is compared in lower case."""

    globs: tuple[str, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    # The globs as one compiled pattern: every argument name of every request is matched against them.
    _any_glob: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.globs:
            object.__setattr__(self, "_any_glob", re.compile("|".join(fnmatch.translate(g) for g in self.globs)))

    @classmethod
    def parse(cls, entries: Iterable[str] | None) -> RedactionRules:
        entries = DEFAULT_RULES if entries is None else entries
        globs, paths = [], []
        for entry in entries:
            parts = tuple(part.lower() for part in entry.split("."))
            if len(parts) == 1:
                globs.append(parts[0])
            else:
                paths.append(parts)
        return cls(tuple(globs), tuple(paths))

    def matches(self, path: tuple[str, ...]) -> bool:
        """`path` is the lower-cased key path to a value, list indices left out."""
        if not path:
            return False
        if self._any_glob is not None and self._any_glob.match(path[-1]):
            return True
        return any(
            len(rule) == len(path) and all(fnmatch.fnmatchcase(p, r) for p, r in zip(path, rule, strict=True))
            for rule in self.paths
        )


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(MASK_PREFIX)


def mask(value: Any, key: bytes) -> str:
    if is_mask(value):
        return str(value)  # masking twice (an export of an already masked entry) changes nothing
    return MASK_PREFIX + hmac.new(key, canonical(value).encode("utf-8"), hashlib.sha256).hexdigest()


def redact(value: Any, rules: RedactionRules, key: bytes, path: tuple[str, ...] = ()) -> Any:
    """A copy of `value` with every value under a matching key replaced by its mask."""
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for name, item in value.items():
            item_path = (*path, str(name).lower())
            masked[name] = mask(item, key) if rules.matches(item_path) else redact(item, rules, key, item_path)
        return masked
    if isinstance(value, list):
        return [redact(item, rules, key, path) for item in value]
    return value


def restore(edited: Any, original: Any, rules: RedactionRules, key: bytes, path: tuple[str, ...] = ()) -> Any:
    """`edited` with each mask that still equals the mask of the original value at the same place put back
    to that original value; anything the approver typed over is kept as typed."""
    if isinstance(edited, dict):
        before = original if isinstance(original, dict) else {}
        restored: dict[str, Any] = {}
        for name, item in edited.items():
            item_path = (*path, str(name).lower())
            if name in before and rules.matches(item_path) and is_mask(item) and item == mask(before[name], key):
                restored[name] = before[name]
            else:
                restored[name] = restore(item, before.get(name), rules, key, item_path)
        return restored
    if isinstance(edited, list):
        before_list = original if isinstance(original, list) else []
        return [
            restore(item, before_list[i] if i < len(before_list) else None, rules, key, path)
            for i, item in enumerate(edited)
        ]
    return edited


@dataclass(frozen=True)
class Redactor:
    """The policy's rules with the server's masking key: what every outbound path applies."""

    rules: RedactionRules
    key: bytes

    def args(self, value: Any) -> Any:
        return None if value is None else redact(value, self.rules, self.key)

    def restore(self, edited: Any, original: Any) -> Any:
        return restore(edited, original, self.rules, self.key)

    def approval(self, approval: Approval) -> Approval:
        """The request as a person sees it: arguments, context and every vote's arguments masked."""
        update: dict[str, Any] = {"args": self.args(approval.args), "context": self.args(approval.context)}
        if approval.decision is not None:
            update["decision"] = approval.decision.model_copy(update={"args": self.args(approval.decision.args)})
        update["approvals"] = [v.model_copy(update={"args": self.args(v.args)}) for v in approval.approvals]
        return approval.model_copy(update=update)

    def audit_detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        return {name: self.args(value) if name in AUDIT_ARG_FIELDS else value for name, value in detail.items()}

    def event(self, event: AuditEvent) -> AuditEvent:
        return event.model_copy(update={"detail": self.audit_detail(event.detail)})
