"""`countersign audit archive`: move the audit entries before a date to a JSONL file, then out of Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bot.audit import AuditLog, entry
from bot.audit_chain import ChainWalker, export_line
from bot.clock import Clock
from bot.errors import ConfigError
from bot.secrets import AuditKey
from bot.store import Store


class ArchiveRefused(Exception):
    def __init__(self, message: str, entry_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.entry_id = entry_id


@dataclass
class ArchiveResult:
    entries: int
    last_id: str | None


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq) + 1}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def archive(
    audit: AuditLog, store: Store, key: AuditKey, before_ms: int, path: Path, clock: Clock
) -> ArchiveResult:
    """Write every entry before `before_ms` to `path` (checking the chain as it goes), fsync it, and only then
    trim exactly those entries from Redis and record the checkpoint the rest continues from."""
    if await asyncio.to_thread(path.exists):
        raise ConfigError(f"-o: {path} exists; an archive never overwrites a file")
    checkpoint, stored_checkpoint = await audit.checkpoint()
    if problem := checkpoint.problem(key):
        raise ArchiveRefused(f"the archive checkpoint in Redis: {problem}")
    walker = ChainWalker(key, checkpoint.hash, checkpoint.keyed)
    partial = path.with_name(path.name + ".partial")
    last_id = None
    try:
        # Run by the CLI alone: plain buffered writes; the file is opened off the loop all the same.
        with await asyncio.to_thread(partial.open, "x", encoding="utf-8") as out:
            async for entry_id, fields in audit.raw_entries(until_ms=before_ms - 1):
                prev = walker.prev
                body_sha = export_line(entry_id, fields, prev)["body_sha"]
                if problem := walker.step(body_sha, fields.get("hash", ""), fields.get("alg"), fields.get("kid")):
                    raise ArchiveRefused(f"{problem} (run `countersign audit verify`)", entry_id)
                out.write(json.dumps(export_line(entry_id, fields, prev), ensure_ascii=False) + "\n")
                last_id = entry_id
            if last_id is None:
                return ArchiveResult(0, None)
            checkpoint.id, checkpoint.hash = last_id, walker.prev
            checkpoint.entries += walker.checked
            checkpoint.keyed = walker.keyed
            checkpoint.sign(key)
            out.write(json.dumps({"checkpoint": json.loads(checkpoint.to_json())}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.link(partial, path)  # fails rather than replace a file created meanwhile
        _fsync_dir(path.parent.resolve())
    except FileExistsError:
        raise ConfigError(f"-o: {path} exists; an archive never overwrites a file") from None
    except OSError as exc:
        raise ConfigError(f"-o: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    await _trim(audit, stored_checkpoint, last_id, checkpoint.hash, checkpoint.to_json())
    await store.append_audit(
        entry("audit_archived", clock.now(), None, None, entries=walker.checked, last_id=last_id, file=path.name)
    )
    return ArchiveResult(walker.checked, last_id)


async def _trim(audit: AuditLog, expected: str, last_id: str, last_hash: str, checkpoint: str) -> None:
    script = audit.redis.register_script(resources.files("bot.lua").joinpath("audit_trim.lua").read_text())
    result: Any = await script(
        keys=[audit.keys.audit, audit.checkpoint_key],
        args=[
            json.dumps(
                {
                    "expected": expected,
                    "last_id": last_id,
                    "last_hash": last_hash,
                    "checkpoint": checkpoint,
                    "min_id": _next_id(last_id),
                }
            )
        ],
    )
    if not int(result[0]):
        reason = str(result[1])
        raise ArchiveRefused(f"the file was written but nothing was trimmed: {reason}")
