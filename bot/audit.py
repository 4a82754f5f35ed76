"""The tamper-evident audit trail: entry bodies, reading, export and chain verification."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from bot.audit_chain import ChainWalker, Checkpoint, export_line
from bot.clock import iso
from bot.keys import Keys
from bot.models import Actor, AuditEvent
from bot.redaction import Redactor
from bot.secrets import AuditKey
from bot.store import Entry


def entry(event_type: str, at: datetime, approval_id: str | None, actor: Actor | None, **detail: Any) -> Entry:
    return Entry.of(
        {
            "type": event_type,
            "at": iso(at),
            "approval_id": approval_id,
            "actor": actor.model_dump() if actor else None,
            # Absent details are left out rather than stored as null (the audit stream grows until archived).
            "detail": {key: value for key, value in detail.items() if value is not None},
        }
    )


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
    counts: dict[str, int] = field(default_factory=lambda: {"keyed": 0, "plain": 0})


class AuditLog:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    @property
    def checkpoint_key(self) -> str:
        return self.keys.named("audit:checkpoint")

    async def checkpoint(self) -> tuple[Checkpoint, str]:
        """The archive checkpoint the entries in Redis continue from, and its stored form (for a compare-and-set)."""
        raw: Any = await self.redis.get(self.checkpoint_key)
        text = raw if raw else ""
        return Checkpoint.parse(text), text

    async def for_approval(self, approval_id: str) -> list[AuditEvent]:
        raw: Any = await self.redis.hget(self.keys.approval(approval_id), "au")
        ids = raw.split(",") if raw else []
        events = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xrange(self.keys.audit, entry_id, entry_id)
            rows = await pipe.execute()
        for row in rows:
            for entry_id, fields in row:
                events.append(to_event(entry_id, fields))
        return events

    async def raw_entries(
        self, since_ms: int | None = None, until_ms: int | None = None, batch: int = 1000
    ) -> AsyncIterator[tuple[str, dict[str, str]]]:
        start = f"{since_ms}-0" if since_ms is not None else "-"
        end = f"{until_ms}-{2**64 - 1}" if until_ms is not None else "+"
        while True:
            rows: Any = await self.redis.xrange(self.keys.audit, start, end, count=batch)
            for entry_id, fields in rows:
                yield entry_id, fields
            if len(rows) < batch:
                return
            start = "(" + rows[-1][0]

    async def hash_before(self, since_ms: int | None) -> str:
        """The chain hash just before the first entry at or after since_ms: an export's starting link."""
        if since_ms is not None:
            rows: Any = await self.redis.xrevrange(self.keys.audit, f"({since_ms}-0", "-", count=1)
            if rows:
                return rows[0][1]["hash"]
        return (await self.checkpoint())[0].hash

    async def export(
        self,
        out: io.TextIOBase | Any,
        fmt: str = "jsonl",
        since_ms: int | None = None,
        until_ms: int | None = None,
        redactor: Redactor | None = None,
    ) -> int:
        """Write entries as CSV or JSONL. Entries are masked when written (bot/service.py); `redactor` also
        masks older entries that were stored with raw secret values."""
        count = 0
        writer = None
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(
                ["id", "at", "type", "approval_id", "actor_channel", "actor_id", "actor_name", "detail", "hash"]
            )
        prev = await self.hash_before(since_ms)
        async for entry_id, fields in self.raw_entries(since_ms, until_ms):
            body = json.loads(fields["body"])
            masked = None
            if redactor is not None and body.get("detail"):
                masked = {**body, "detail": redactor.audit_detail(body["detail"])}
            if writer is not None:
                body = masked or body
                actor = body.get("actor") or {}
                writer.writerow(
                    [
                        entry_id,
                        body["at"],
                        body["type"],
                        body.get("approval_id") or "",
                        actor.get("channel", ""),
                        actor.get("id", ""),
                        actor.get("name") or "",
                        json.dumps(body.get("detail") or {}, ensure_ascii=False),
                        fields["hash"],
                    ]
                )
            else:
                # With the previous hash and the body's digest, a JSONL export verifies offline
                # (`countersign audit verify --file`).
                out.write(json.dumps(export_line(entry_id, fields, prev, masked), ensure_ascii=False) + "\n")
            prev = fields["hash"]
            count += 1
        return count

    async def verify(self, key: AuditKey | None) -> VerifyResult:
        """Walk the chain from the archive checkpoint: any altered, removed or inserted entry breaks it there.
        Keyed entries need the key (raises KeyNeeded without it)."""
        checkpoint, _ = await self.checkpoint()
        if problem := checkpoint.problem(key):
            return VerifyResult(False, 0, problem, checkpoint.id or None)
        walker = ChainWalker(key, checkpoint.hash, checkpoint.keyed)
        last_id = checkpoint.id or None
        async for entry_id, fields in self.raw_entries():
            body_sha = hashlib.sha256(fields.get("body", "").encode("utf-8")).hexdigest()
            if problem := walker.step(body_sha, fields.get("hash", ""), fields.get("alg"), fields.get("kid")):
                return VerifyResult(False, walker.checked, problem, entry_id, walker.counts)
            last_id = entry_id
        tail = await self.redis.get(self.keys.audit_tail)
        if (tail if tail else "") != walker.prev:
            return VerifyResult(
                False,
                walker.checked,
                "the chain's recorded tail does not match its last entry (entries were removed from the end)",
                last_id,
                walker.counts,
            )
        return VerifyResult(True, walker.checked, counts=walker.counts)
