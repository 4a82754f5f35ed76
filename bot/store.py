"""The Redis repository: atomic create and transitions (Lua), reads, listing and audit appends."""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import ConfigDict, Field
from redis.asyncio import Redis

from bot.clock import from_ms
from bot.errors import TooManyRequests
from bot.jsonutil import canonical, sha256_hex
from bot.keys import Keys
from bot.limits import PENDING_RETRY_AFTER_S
from bot.models import Approval, Decision, Status, Vote
from bot.policy.schema import LevelPolicy
from bot.secrets import AuditKey
from bot.validation import MAX_DEPTH, too_deep

log = logging.getLogger(__name__)
OUTBOX_MAXLEN = 100_000


class Route(LevelPolicy):
    """The level's policy as it stood when the request was filed (approvers, quorum, channels, escalation,
    on_timeout …) and the rules that matched: stored with the request, parsed once when it is read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: list[str] = Field(default_factory=list)


@functools.lru_cache(maxsize=256)
def _route(text: str) -> Route:
    # Requests of one level share their route: parse (and validate) each distinct one once per process.
    return Route.model_validate_json(text)


def parse_route(stored: dict[str, Any]) -> Route:
    """A stored route (written without its defaults) as a Route."""
    return _route(json.dumps(stored, sort_keys=True, separators=(",", ":")))


def _script(name: str) -> str:
    lua = resources.files("bot.lua")
    return "\n".join(lua.joinpath(part).read_text() for part in ("sha256.lua", "audit.lua", name))


@dataclass
class Entry:
    """An audit entry to write: its canonical body and the body's digest."""

    body: str
    sha: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> Entry:
        body = canonical(record)
        return cls(body, sha256_hex(body))


@dataclass
class Filing:
    """A new request for the create script: its stored document, first status (policy may decide it at
    once), times, and audit entries."""

    document: dict[str, Any]
    status: Status
    decision: Decision | None
    created_ms: int
    expires_ms: int
    created_entry: Entry
    decided_entry: Entry | None = None


@dataclass
class StoredApproval:
    """An approval with the route (approvers, quorum, escalation) that policy gave it."""

    approval: Approval
    route: Route
    agreed: str | None = None  # canonical JSON of the arguments a modify vote set, which the quorum now endorses


@dataclass
class Ballot:
    """A vote for the transition script, with every variant it may need: the script picks from the stored
    state (never from a snapshot read before it) whether the vote clears earlier ones, counts, or is refused."""

    voter: str  # the person's key: one vote per person
    markers: set[str]  # every identity of that person; none of them may vote again
    kind: str  # approve | modify | reject
    endorsed: str  # canonical JSON of the arguments this vote endorses ('' for a reject)
    original: str  # canonical JSON of the request's own arguments
    quorum: int
    vote: Vote
    entry: Entry
    reset_entry: Entry  # the vote's entry when it clears earlier votes (a modify of the agreed arguments)
    changed_entry: Entry  # the refusal when an approve endorses arguments that are no longer agreed
    modified: tuple[Decision, Entry] | None = None  # an approve's decision once a modify set the arguments

    def script_fields(self) -> dict[str, Any]:
        return {
            "voter": self.voter,
            "identities": sorted(self.markers),
            "kind": self.kind,
            "args": self.endorsed,
            "original": self.original,
            "quorum": self.quorum,
            "vote": self.vote.model_dump_json(),
            "vote_entry": _fields(self.entry),
            "reset_entry": _fields(self.reset_entry),
            "changed_entry": _fields(self.changed_entry),
            "modified": {"decision": self.modified[0].model_dump_json(), "entry": _fields(self.modified[1])}
            if self.modified
            else "",
        }


def _fields(entry: Entry | None) -> dict[str, str] | str:
    return {"body": entry.body, "sha": entry.sha} if entry else ""


@dataclass
class TransitionResult:
    outcome: str  # final | voted | conflict | duplicate | changed | missing | early
    stored: StoredApproval | None


def parse_approval(fields: dict[str, str]) -> StoredApproval:
    stored = json.loads(fields["req"])
    if too_deep(stored, MAX_DEPTH + 1):  # written before intake bounded depth: it would break every reader
        raise ValueError("stored request is nested too deeply")
    document = {
        "run_id": None,
        "requested_by": None,
        "sql": None,
        "args_schema": None,
        "idempotency_key": None,
        "callback_url": None,
        **stored,
    }
    route = parse_route(document.pop("route", {}))
    votes = sorted(
        (Vote.model_validate_json(value) for key, value in fields.items() if key.startswith("v:")),
        key=lambda vote: vote.at,
    )
    document["status"] = fields["st"]
    document["decision"] = Decision.model_validate_json(fields["dec"]) if fields.get("dec") else None
    document["approvals"] = votes
    if fields.get("out"):  # what the agent reported after running it (bot/grant_store.py Outcomes)
        document["execution"] = json.loads(fields["out"])
    document["updated_at"] = from_ms(int(fields.get("upd") or fields["cms"]))
    return StoredApproval(Approval.model_validate(document), route, fields.get("agreed"))


def read_record(approval_id: str, fields: dict[str, str]) -> StoredApproval | None:
    """Parse one stored record; None (logged) when it cannot be read, so that one bad record never breaks
    a listing, the expiry sweep or a background loop for everybody else."""
    try:
        return parse_approval(fields)
    except Exception as exc:  # corrupt JSON, too deep to parse, a field of the wrong type: any of them
        log.error("approval %s is unreadable and is skipped: %s", approval_id, type(exc).__name__)
        return None


def _pairs_to_dict(flat: list[Any]) -> dict[str, str]:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def encode_cursor(score: float, member: str) -> str:
    return base64.urlsafe_b64encode(f"{int(score)}:{member}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    padded = cursor + "=" * (-len(cursor) % 4)
    score, _, member = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    return int(score), member


class Store:
    def __init__(
        self, redis: Redis, keys: Keys, retention_s: int, audit_key: Callable[[], Awaitable[AuditKey]] | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_s = retention_s
        self._load_audit_key = audit_key
        self._audit_arg: str | None = None
        self._create = redis.register_script(_script("create.lua"))
        self._transition = redis.register_script(_script("transition.lua"))
        self._append = redis.register_script(_script("append.lua"))

    async def chain_arg(self) -> str:
        """The last ARGV of every script that may append to the audit stream (see audit.lua): the chain key,
        loaded once. Always passed, '' when unkeyed, so no caller-supplied value is ever last."""
        if self._audit_arg is None:
            self._audit_arg = (await self._load_audit_key()).script_arg if self._load_audit_key else ""
        return self._audit_arg

    async def create(self, filing: Filing, max_pending: int = 0) -> tuple[bool, str]:
        """Returns (created, id): created is False when the idempotency key named an existing one.

        Raises TooManyRequests when the agent already has max_pending (> 0) requests pending."""
        k = self.keys
        document = filing.document
        approval_id, agent = document["id"], document["agent"]
        idem = k.idempotency(agent, document["idempotency_key"]) if document.get("idempotency_key") else ""
        fields = {
            "id": approval_id,
            "request": canonical(document),
            "status": filing.status.value,
            "decision": filing.decision.model_dump_json() if filing.decision else "",
            "created_ms": str(filing.created_ms),
            "expires_ms": str(filing.expires_ms),
            "level": document["risk_level"],
            "retention_s": str(self.retention_s),
            "created_entry": _fields(filing.created_entry),
            "decided_entry": _fields(filing.decided_entry),
            "channel": k.changes_channel,
            "maxlen_outbox": str(OUTBOX_MAXLEN),
            "max_pending": str(max_pending),
            "approval_prefix": k.approval(""),
        }
        created, found_id = await self._create(
            keys=[
                k.approval(approval_id),
                k.pending,
                k.expiry,
                k.all,
                k.agent_index(agent),
                idem,
                k.audit,
                k.audit_tail,
                k.outbox,
                k.pending_by_level,
                k.named(f"pending:agent:{agent}"),
                k.decided,
            ],
            args=[json.dumps(fields, ensure_ascii=False), await self.chain_arg()],
        )
        if int(created) < 0:
            raise TooManyRequests(
                f"agent {agent!r} already has {max_pending} requests pending "
                "(COUNTERSIGN_AGENT_MAX_PENDING); wait for some to be decided",
                "COUNTERSIGN_AGENT_MAX_PENDING",
                PENDING_RETRY_AFTER_S,
            )
        return int(created) == 1, str(found_id)

    async def transition(  # noqa: PLR0913 -- keyword-only: the fields of transition.lua's one JSON argument
        self,
        approval_id: str,
        *,
        mode: str,
        new_status: Status,
        decision: Decision,
        now_ms: int,
        final_entry: Entry,
        refused_entry: Entry | None = None,
        not_before_ms: int | None = None,
        ballot: Ballot | None = None,
    ) -> TransitionResult:
        """A final transition (mode `final`), or a vote (mode `vote`, with its ballot) that may end it."""
        k = self.keys
        fields: dict[str, Any] = {
            "mode": mode,
            "id": approval_id,
            "new_status": new_status.value,
            "decision": decision.model_dump_json(),
            "now_ms": str(now_ms),
            "retention_s": str(self.retention_s),
            "final_entry": _fields(final_entry),
            "refused_entry": _fields(refused_entry),
            "channel": k.changes_channel,
            "maxlen_outbox": str(OUTBOX_MAXLEN),
            "not_before_ms": "" if not_before_ms is None else str(not_before_ms),
            **(ballot.script_fields() if ballot else {}),
        }
        outcome, _status, flat = await self._transition(
            keys=[
                k.approval(approval_id),
                k.pending,
                k.expiry,
                k.audit,
                k.audit_tail,
                k.outbox,
                k.pending_by_level,
                k.decided,
            ],
            args=[json.dumps(fields, ensure_ascii=False), await self.chain_arg()],
        )
        stored = parse_approval(_pairs_to_dict(flat)) if flat else None
        return TransitionResult(outcome, stored)

    async def append_audit(self, entry: Entry, approval_id: str | None = None) -> str:
        k = self.keys
        approval_key = k.approval(approval_id) if approval_id else ""
        entry_id = await self._append(
            keys=[k.audit, k.audit_tail, approval_key],
            args=[json.dumps(_fields(entry), ensure_ascii=False), await self.chain_arg()],
        )
        return str(entry_id)

    async def get(self, approval_id: str) -> StoredApproval | None:
        fields: Any = await self.redis.hgetall(self.keys.approval(approval_id))
        return read_record(approval_id, fields) if fields.get("req") else None

    async def get_many(self, approval_ids: list[str]) -> list[StoredApproval]:
        """The readable records among approval_ids, in order; missing and unreadable ones are left out."""
        found, _missing = await self.fetch(approval_ids)
        return [found[i] for i in approval_ids if i in found]

    async def fetch(self, approval_ids: list[str]) -> tuple[dict[str, StoredApproval], set[str]]:
        """({id: readable record}, ids with no record at all). Unreadable records are in neither."""
        if not approval_ids:
            return {}, set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for approval_id in approval_ids:
                pipe.hgetall(self.keys.approval(approval_id))
            rows = await pipe.execute()
        found: dict[str, StoredApproval] = {}
        missing: set[str] = set()
        for approval_id, row in zip(approval_ids, rows, strict=True):
            fields = row or {}
            if not fields.get("req"):
                missing.add(approval_id)
            elif (record := read_record(approval_id, fields)) is not None:
                found[approval_id] = record
        return found, missing

    async def history_ids(self, approval_id: str) -> list[str]:
        text: Any = await self.redis.hget(self.keys.approval(approval_id), "au")
        return text.split(",") if text else []

    async def status_of(self, approval_id: str) -> str | None:
        status: Any = await self.redis.hget(self.keys.approval(approval_id), "st")
        return status

    async def due_for_expiry(self, now_ms: int, limit: int = 500) -> list[str]:
        ids: Any = await self.redis.zrangebyscore(self.keys.expiry, "-inf", now_ms, start=0, num=limit)
        return ids

    async def unschedule(self, approval_id: str) -> None:
        """Take an id off the expiry schedule (its record is gone or unreadable: nothing to expire)."""
        await self.redis.zrem(self.keys.expiry, approval_id)

    async def pending_by_level(self) -> dict[str, int]:
        raw: Any = await self.redis.hgetall(self.keys.pending_by_level)
        return {level: int(count) for level, count in raw.items()}
