"""Deciding from the dashboard: one request, or a batch that skips (and lists) what one may not decide."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.models import Outcome
from bot.service import ApprovalService, Decider

MAX_BATCH = 1000
MAX_COMMENT = 4000
BATCH_CONCURRENCY = 16


def read_outcome(raw: object, allowed: tuple[str, ...] = ("approve", "reject", "modify")) -> Outcome:
    if not isinstance(raw, str) or raw not in allowed:
        raise InvalidInput("unknown decision", {"outcome": "one of " + ", ".join(allowed)})
    return raw  # type: ignore[return-value]


def read_comment(raw: object) -> str | None:
    comment = raw.strip() if isinstance(raw, str) else ""
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"the comment is longer than {MAX_COMMENT} characters", {"comment": "too long"})
    try:
        comment.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("the comment is not valid text", {"comment": "invalid text"}) from None
    return comment or None  # whether a reason is required is the service's rule (policy `require_reason`)


def read_args(raw: object) -> dict[str, Any]:
    """The modify editor's text → a JSON object (the service then checks it against args_schema)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput("modify needs the new arguments", {"args": "required for modify"})
    try:
        args = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"the arguments are not valid JSON: {exc}", {"args": "malformed JSON"}) from None
    except RecursionError:
        raise InvalidInput("the arguments are nested too deeply", {"args": "nested too deeply"}) from None
    if not isinstance(args, dict):
        raise InvalidInput("the arguments must be a JSON object", {"args": "must be a JSON object"})
    try:
        json.dumps(args, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        # "\ud800" parses, but a lone surrogate cannot be stored or hashed.
        raise InvalidInput("the arguments hold text that is not valid Unicode", {"args": "invalid text"}) from None
    return args


@dataclass
class BatchResult:
    outcome: str
    decided: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # a vote counted toward a quorum, still pending
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, why)


async def decide_batch(
    service: ApprovalService, decider: Decider, ids: list[str], outcome: Outcome, comment: str | None
) -> BatchResult:
    result = BatchResult(outcome)
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)

    async def one(approval_id: str) -> None:
        async with gate:
            try:
                approval = await service.decide(approval_id, decider, outcome, comment)
            except Forbidden as exc:
                result.skipped.append((approval_id, exc.message))
            except (Conflict, InvalidInput) as exc:  # InvalidInput: this one needs a reason to reject
                result.skipped.append((approval_id, exc.message))
            except NotFound:
                result.skipped.append((approval_id, "no such request"))
            else:
                still_pending = approval.status.value == "pending"
                (result.recorded if still_pending else result.decided).append(approval_id)

    await asyncio.gather(*(one(i) for i in dict.fromkeys(ids)))
    order = {approval_id: n for n, approval_id in enumerate(ids)}
    result.decided.sort(key=order.__getitem__)
    result.recorded.sort(key=order.__getitem__)
    result.skipped.sort(key=lambda pair: order[pair[0]])
    return result
