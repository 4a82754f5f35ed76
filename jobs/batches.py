"""Per-person batching of email/SMS: requests due for one address or number within a short window go out
as one message. The first due step opens the window (Redis, atomically) and schedules one send at its end;
others due inside it join; the send re-checks every request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rq.job import Job

from bot.policy.schema import ChannelTarget
from bot.runtime import Runtime
from jobs import context
from jobs.scheduling import STEP_RETRY, job_prefix

# KEYS[1]: the target's open-window key (its value: the open batch's id).
# ARGV[1]: JSON {batch: a new id, used if no window is open; member; members_prefix; open_ttl; ttl}.
# Reads the open window and joins it in one step, so a member never lands in a batch already being sent.
JOIN = """
local a = cjson.decode(ARGV[1])
local batch = redis.call('GET', KEYS[1])
local opened = 0
if not batch then
  batch = a.batch
  opened = 1
  redis.call('SET', KEYS[1], batch, 'EX', a.open_ttl)
end
local members = a.members_prefix .. batch
redis.call('SADD', members, a.member)
redis.call('EXPIRE', members, a.ttl)
return {batch, opened}
"""
# KEYS[1]: the target's open-window key; ARGV[1]: the batch being sent. Closes it if it is still this one.
CLOSE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


@dataclass(frozen=True)
class Member:
    approval_id: str
    label: str
    labels: dict[str, Any]
    reminder: bool


def _target_hash(target: ChannelTarget) -> str:
    return hashlib.sha256(f"{target.kind}:{target.target.lower()}".encode()).hexdigest()[:24]


def open_key(runtime: Runtime, target: ChannelTarget) -> str:
    return runtime.keys.named(f"batch:open:{_target_hash(target)}")


def members_key(runtime: Runtime, batch_id: str) -> str:
    return runtime.keys.named(f"batch:members:{batch_id}")


def batch_job_id(runtime: Runtime, batch_id: str) -> str:
    return f"{job_prefix(runtime.keys)}batch-{batch_id}"


async def join(runtime: Runtime, target: ChannelTarget, member: Member) -> str:
    """Add this request's step to the target's open batch (opening one if none is); returns the batch id."""
    window = runtime.settings.countersign_escalation_batch_s
    body = {
        "batch": f"{int(runtime.clock.now().timestamp())}{secrets.token_hex(6)}",
        "member": json.dumps(
            {"id": member.approval_id, "label": member.label, "labels": member.labels, "reminder": member.reminder},
            sort_keys=True,
        ),
        "members_prefix": runtime.keys.named("batch:members:"),
        # A window whose send was never scheduled (a crash just after opening it) closes by itself.
        "open_ttl": window + 300,
        "ttl": runtime.settings.retention_seconds,
    }
    batch_id, opened = await runtime.redis.eval(JOIN, 1, open_key(runtime, target), json.dumps(body))
    batch_id = str(batch_id.decode() if isinstance(batch_id, bytes) else batch_id)
    await asyncio.to_thread(_ensure_send, runtime, batch_id, target, window, bool(opened))
    return batch_id


def _ensure_send(runtime: Runtime, batch_id: str, target: ChannelTarget, window: int, opened: bool) -> None:
    """Schedule the batch's one send at the window's end (again if the opener died before scheduling it)."""
    queue = context.job_queue()
    job_id = batch_job_id(runtime, batch_id)
    if not opened and Job.exists(job_id, connection=queue.connection):
        return
    queue.enqueue_in(
        timedelta(seconds=window),
        "jobs.escalation.run_batch",
        target.kind,
        target.target,
        batch_id,
        job_id=job_id,
        retry=STEP_RETRY,
        result_ttl=3600,
    )


async def take(runtime: Runtime, target: ChannelTarget, batch_id: str) -> list[Member]:
    """Close the window (nothing joins it after this) and read its members; they stay until sent, so a
    retried send reads them again."""
    await runtime.redis.eval(CLOSE, 1, open_key(runtime, target), batch_id)
    raw = await runtime.redis.smembers(members_key(runtime, batch_id))
    members = []
    for item in raw:
        fields = json.loads(item)
        members.append(Member(fields["id"], fields["label"], fields["labels"], bool(fields["reminder"])))
    return sorted(members, key=lambda m: (m.approval_id, m.label))


async def done(runtime: Runtime, batch_id: str) -> None:
    await runtime.redis.delete(members_key(runtime, batch_id))
