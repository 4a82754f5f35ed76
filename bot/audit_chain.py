"""Checking the audit hash chain, entry by entry: in Redis, or offline in an export or archive file."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.jsonutil import canonical, sha256_hex
from bot.secrets import AUDIT_ALG, AuditKey

# Keys an export line adds around an entry's body; everything else on the line is the body.
LINE_KEYS = ("id", "hash", "prev", "body_sha", "alg", "kid", "masked_at_export")
ALTERED = "hash does not match: this entry was altered, or one before it was removed or inserted"


class KeyNeeded(Exception):
    """A keyed entry, and no key to check it with."""


def plain_hash(prev: str, body_sha: str) -> str:
    return sha256_hex(f"{prev}:{body_sha}")


@dataclass
class Checkpoint:
    """The chain state after the last archived entry: where the entries left in Redis continue from."""

    id: str = ""
    hash: str = ""
    entries: int = 0  # archived so far, in all archives
    keyed: bool = False  # a keyed entry was archived: no plain entry may follow
    mac: str = ""

    def signed_part(self) -> str:
        return "checkpoint:" + canonical(
            {"id": self.id, "hash": self.hash, "entries": self.entries, "keyed": self.keyed}
        )

    def sign(self, key: AuditKey | None) -> Checkpoint:
        self.mac = key.mac(self.signed_part()) if key else ""
        return self

    def problem(self, key: AuditKey | None) -> str | None:
        if not self.id:
            return None  # nothing archived yet: the chain starts from ''
        if not self.mac:
            return None if key is None and not self.keyed else "the checkpoint is not signed"
        if key is None:
            raise KeyNeeded
        if not hmac.compare_digest(key.mac(self.signed_part()), self.mac):
            return "the checkpoint's signature does not match (it was altered, or signed under another key)"
        return None

    def to_json(self) -> str:
        return canonical(
            {"id": self.id, "hash": self.hash, "entries": self.entries, "keyed": self.keyed, "mac": self.mac}
        )

    @classmethod
    def parse(cls, raw: Any) -> Checkpoint:
        if not raw:
            return cls()
        value = json.loads(raw)
        return cls(
            str(value["id"]),
            str(value["hash"]),
            int(value["entries"]),
            bool(value["keyed"]),
            str(value.get("mac") or ""),
        )


@dataclass
class ChainWalker:
    """Follows the chain from a starting hash; `step` names what is wrong with the next entry, if anything."""

    key: AuditKey | None
    prev: str = ""
    keyed: bool = False
    checked: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"keyed": 0, "plain": 0})

    def step(self, body_sha: str, stored_hash: str, alg: str | None, kid: str | None = None) -> str | None:
        if alg == AUDIT_ALG:
            if self.key is None:
                raise KeyNeeded
            expected = self.key.mac(f"{self.prev}:{body_sha}")
        elif alg:
            return f"unknown chain scheme {alg!r}"
        elif self.keyed:
            return "a plain (unkeyed) entry after keyed ones: the chain was rewritten without the key"
        else:
            expected = plain_hash(self.prev, body_sha)
        if not hmac.compare_digest(expected, stored_hash or ""):
            if alg and self.key and kid and kid != self.key.kid:
                return f"chained under another secret key (key id {kid}, ours {self.key.kid})"
            return ALTERED
        self.keyed = self.keyed or bool(alg)
        self.counts["keyed" if alg else "plain"] += 1
        self.prev = stored_hash
        self.checked += 1
        return None


def export_line(
    entry_id: str, fields: dict[str, str], prev: str, masked: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSONL export line: the body's fields plus what an offline verifier needs.

    `masked` is the body with secrets masked at export (entries stored before masking at write time): the
    line then keeps the stored body's digest and says so, so the chain still verifies but that body cannot."""
    body = json.loads(fields["body"])
    line: dict[str, Any] = {
        "id": entry_id,
        **(masked if masked is not None else body),
        "hash": fields["hash"],
        "prev": prev,
        "body_sha": sha256_hex(fields["body"]),
    }
    if masked is not None and masked != body:
        line["masked_at_export"] = True
    if fields.get("alg"):
        line["alg"], line["kid"] = fields["alg"], fields.get("kid", "")
    return line


@dataclass
class FileResult:
    ok: bool
    checked: int
    counts: dict[str, int]
    problem: str | None = None
    where: str | None = None  # "entry <id>" or "line <n>"


def verify_lines(lines: Iterable[tuple[int, dict[str, Any]]], key: AuditKey | None) -> FileResult:
    """Walk an export or archive: each line's body against its digest, each link against the line before,
    and an archive's closing checkpoint against its last entry. Raises KeyNeeded for keyed entries."""
    walker: ChainWalker | None = None
    last_id, trailer = "", None
    for number, line in lines:
        if trailer is not None:
            return _broken(walker, f"line {number}", "entries after the archive's closing checkpoint")
        if "checkpoint" in line:
            trailer = line["checkpoint"]
            continue
        entry_id = str(line.get("id", ""))
        where = f"entry {entry_id}" if entry_id else f"line {number}"
        body = {k: v for k, v in line.items() if k not in LINE_KEYS}
        body_sha = sha256_hex(canonical(body))
        if line.get("masked_at_export") is True and isinstance(line.get("body_sha"), str):
            body_sha = line["body_sha"]  # secrets masked at export: only the link can be checked
        elif line.get("body_sha") not in (None, body_sha):
            return _broken(walker, where, "the body does not match its digest: this entry was altered")
        prev = line.get("prev")
        if walker is None:
            walker = ChainWalker(key, str(prev or ""), keyed=False)
        elif prev is not None and prev != walker.prev:
            return _broken(walker, where, "does not follow the entry before it (entries removed or reordered)")
        if problem := walker.step(body_sha, str(line.get("hash", "")), line.get("alg"), line.get("kid")):
            return _broken(walker, where, problem)
        last_id = entry_id
    if trailer is not None and (problem := _trailer_problem(trailer, walker, last_id, key)):
        return _broken(walker, "the closing checkpoint", problem)
    return FileResult(True, walker.checked if walker else 0, walker.counts if walker else {"keyed": 0, "plain": 0})


def _trailer_problem(trailer: Any, walker: ChainWalker | None, last_id: str, key: AuditKey | None) -> str | None:
    try:
        checkpoint = Checkpoint.parse(json.dumps(trailer))
    except (ValueError, KeyError, TypeError):
        return "unreadable"
    if walker is None or checkpoint.id != last_id or checkpoint.hash != walker.prev:
        return "does not match the last entry (entries were removed from the end)"
    return checkpoint.problem(key)


def _broken(walker: ChainWalker | None, where: str, problem: str) -> FileResult:
    counts = walker.counts if walker else {"keyed": 0, "plain": 0}
    return FileResult(False, walker.checked if walker else 0, counts, problem, where)
