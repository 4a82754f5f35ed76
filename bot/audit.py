"""The tamper-evident audit trail: entry bodies, reading, export and chain verification."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from bot.clock import iso
from bot.keys import Keys
from bot.models import Actor, AuditEvent
from bot.redaction import Redactor
from bot.store import Entry


def entry(event_type: str, at: datetime, approval_id: str | None, actor: Actor | None,
          **detail: Any) -> Entry:
    return Entry.of({
        "type": event_type,
        "at": iso(at),
        "approval_id": approval_id,
        "actor": actor.model_dump() if actor else None,
        # Absent details are left out rather than stored as null (the audit stream is never trimmed).
        "detail": {key: value for key, value in detail.items() if value is not None},
    })


def chain_hash(prev: str, body_sha: str) -> str:
    return hashlib.sha256(f"{prev}:{body_sha}".encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def to_event(entry_id: str, fields: dict[str, str]) -> AuditEvent:
    body = json.loads(fields["body"])
    return AuditEvent(
        id=entry_id,
        at=datetime.fromisoformat(body["at"].replace("Z", "+00:00")),
        type=body["type"],
        approval_id=body.get("approval_id"),
        actor=Actor.model_validate(body["actor"]) if body.get("actor") else None,
        detail=body.get("detail") or {},
        hash=fields["hash"],
    )


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    entry_id: str | None = None


class AuditLog:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def for_approval(self, approval_id: str) -> list[AuditEvent]:
        raw: Any = await self.redis.hget(self.keys.approval(approval_id), "au")
        ids = _text(raw).split(",") if raw else []
        events = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xrange(self.keys.audit, entry_id, entry_id)
            rows = await pipe.execute()
        for row in rows:
            for entry_id, fields in row:
                events.append(to_event(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}))
        return events

    async def raw_entries(self, since_ms: int | None = None, until_ms: int | None = None,
                          batch: int = 1000) -> AsyncIterator[tuple[str, dict[str, str]]]:
        start = f"{since_ms}-0" if since_ms is not None else "-"
        end = f"{until_ms}-99999999" if until_ms is not None else "+"
        while True:
            rows: Any = await self.redis.xrange(self.keys.audit, start, end, count=batch)
            for entry_id, fields in rows:
                yield _text(entry_id), {_text(k): _text(v) for k, v in fields.items()}
            if len(rows) < batch:
                return
            start = "(" + _text(rows[-1][0])

    async def export(self, out: io.TextIOBase | Any, fmt: str = "jsonl", since_ms: int | None = None,
                     until_ms: int | None = None, redactor: Redactor | None = None) -> int:
        """Write entries as CSV or JSONL. Entries are masked when written (bot/service.py); `redactor` also
        masks older entries that were stored with raw secret values."""
        count = 0
        writer = None
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(["id", "at", "type", "approval_id", "actor_channel", "actor_id", "actor_name",
                             "detail", "hash"])
        async for entry_id, fields in self.raw_entries(since_ms, until_ms):
            body = json.loads(fields["body"])
            if redactor is not None and body.get("detail"):
                body["detail"] = redactor.audit_detail(body["detail"])
            if writer is not None:
                actor = body.get("actor") or {}
                writer.writerow([entry_id, body["at"], body["type"], body.get("approval_id") or "",
                                 actor.get("channel", ""), actor.get("id", ""), actor.get("name") or "",
                                 json.dumps(body.get("detail") or {}, ensure_ascii=False), fields["hash"]])
            else:
                out.write(json.dumps({"id": entry_id, **body, "hash": fields["hash"]},
                                     ensure_ascii=False) + "\n")
            count += 1
        return count

    async def verify(self) -> VerifyResult:
        """Walk the chain: any altered, removed or inserted entry breaks it at that entry."""
        prev = ""
        checked = 0
        last_id = None
        async for entry_id, fields in self.raw_entries():
            body_sha = hashlib.sha256(fields.get("body", "").encode("utf-8")).hexdigest()
            if chain_hash(prev, body_sha) != fields.get("hash"):
                return VerifyResult(False, checked, "hash does not match: this entry was altered, or one "
                                    "before it was removed or inserted", entry_id)
            prev = fields["hash"]
            checked += 1
            last_id = entry_id
        tail = await self.redis.get(self.keys.audit_tail)
        if (_text(tail) if tail else "") != prev:
            return VerifyResult(False, checked, "the chain's recorded tail does not match its last entry "
                                "(entries were removed from the end)", last_id)
        return VerifyResult(True, checked)
