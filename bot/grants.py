"""Standing grants: what a grant is, how a request is checked against one, and the index intake looks in."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Generic, Literal, TypeVar

import regex
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from bot.jsonutil import canonical
from bot.models import Actor, RiskLevel, Text, Timestamp
from bot.policy import Policy
from bot.policy.engine import arg_value, condition_holds
from bot.policy.schema import Condition, is_grantable

MAX_GRANT_DAYS = 30
MAX_CONDITIONS = 50
REGEX_MAX_CHARS = 200
# A grant's regex runs on the agent's value on the event loop: each search and all of them for one request
# are bounded (CPU time, the `regex` engine's measure); a search that runs out counts as "no match", so the
# request goes to people.
SEARCH_BUDGET_S = 0.01
REQUEST_BUDGET_S = 0.05
_GLOB_CHARS = set("*?[")
_PATH = regex.compile(r"^[^.\s]+(\.[^.\s]+)*$")
T = TypeVar("T")
GrantState = Literal["active", "expired", "revoked", "used_up"]


def dump_args(args: dict[str, Condition]) -> dict[str, Any]:
    """Conditions as written: only the operators given (`eq: null` kept, unset operators left out)."""
    return {
        path: condition.model_dump(mode="json", by_alias=True, exclude_unset=True) for path, condition in args.items()
    }


def _check_regex(path: str, condition: Condition) -> None:
    if condition.regex is not None:
        if len(condition.regex) > REGEX_MAX_CHARS:
            raise ValueError(f"{path}: a regex is at most {REGEX_MAX_CHARS} characters")
        try:
            regex.compile(condition.regex)
        except regex.error as exc:
            raise ValueError(f"{path}: invalid regex: {exc}") from None


class GrantCreate(BaseModel):
    """Body of `POST /v1/grants`. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    agent: Text = Field(min_length=1, max_length=200)  # a glob
    action: Text = Field(min_length=1, max_length=200)  # a glob
    # Conditions on argument paths, in the policy's rule language. A request whose top-level arguments are
    # not all named by some condition does not match unless `extra_args` is true: an argument nobody looked
    # at (`recursive: true`) can change what the call does.
    args: dict[str, Condition] = Field(default_factory=dict, max_length=MAX_CONDITIONS)
    extra_args: bool = False
    # A condition on the request's `sql` (`eq`, `in` or `regex`): the statement is what runs, so a request
    # that carries SQL matches only a grant that says which SQL it trusts (none: no SQL request matches).
    sql: Condition | None = None
    max_level: RiskLevel
    expires_at: datetime
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000)
    revoke_after_failures: int = Field(default=1, ge=1, le=1000)
    reason: Text | None = Field(default=None, max_length=1000)

    @field_serializer("args")
    def _args_as_written(self, args: dict[str, Condition]) -> dict[str, Any]:
        return dump_args(args)

    @field_serializer("sql")
    def _sql_as_written(self, sql: Condition | None) -> dict[str, Any] | None:
        return None if sql is None else dump_args({"sql": sql})["sql"]

    @field_validator("args")
    @classmethod
    def _bounded(cls, value: dict[str, Condition]) -> dict[str, Condition]:
        for path, condition in value.items():
            if len(path) > 200 or not _PATH.match(path):
                raise ValueError(f"{path[:60]!r} is not an argument path such as `path` or `options.mode`")
            _check_regex(path, condition)
        return value

    @field_validator("sql")
    @classmethod
    def _sql_condition(cls, value: Condition | None) -> Condition | None:
        if value is None:
            return None
        if not value.model_fields_set & {"eq", "in_", "regex"}:
            raise ValueError("say which SQL is trusted: `eq`, `in` or `regex`")
        _check_regex("sql", value)
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-01-01T12:00:00Z")
        return value


class Grant(BaseModel):
    """A stored grant as people and approver keys see it."""

    id: str
    agent: str
    action: str
    args: dict[str, Condition] = Field(default_factory=dict)
    extra_args: bool = False
    sql: Condition | None = None
    max_level: RiskLevel
    expires_at: Timestamp
    max_uses: int | None = None
    revoke_after_failures: int = 1
    reason: str | None = None
    created_by: Actor
    created_at: Timestamp
    from_approval: str | None = None
    uses: int = 0
    failures: int = 0
    revoked_at: Timestamp | None = None
    revoked_by: Actor | None = None
    revoked_reason: str | None = None

    @field_serializer("args")
    def _args_as_written(self, args: dict[str, Condition]) -> dict[str, Any]:
        return dump_args(args)

    @field_serializer("sql")
    def _sql_as_written(self, sql: Condition | None) -> dict[str, Any] | None:
        return None if sql is None else dump_args({"sql": sql})["sql"]

    def state(self, now: datetime) -> GrantState:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used_up"
        return "active"

    def body(self) -> dict[str, Any]:
        """The grant's conditions as a JSON body (the fields `GrantCreate` takes)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, include=set(GrantCreate.model_fields))


def check_expiry(expires_at: datetime, now: datetime) -> str | None:
    """Why this expiry is refused, or None: required, in the future, at most 30 days ahead."""
    if expires_at <= now:
        return "must be in the future"
    if expires_at > now + timedelta(days=MAX_GRANT_DAYS):
        return f"must be at most {MAX_GRANT_DAYS} days ahead"
    return None


def check_level(max_level: RiskLevel, policy: Policy) -> str | None:
    if not is_grantable(max_level, policy.level(max_level)):
        why = "set `grantable: true` on it" if max_level == RiskLevel.critical else "it sets `grantable: false`"
        return f"{max_level.value} requests cannot be granted ({why} in the policy)"
    return None


# -- matching ----------------------------------------------------------------------------------------------
def strictly_equal(value: Any, expected: Any) -> bool:
    """JSON equality with types kept: `true` is not `1`, `"1"` is not `1` (Python's == says True == 1)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(value, int | float) and isinstance(expected, int | float):
        return value == expected
    if isinstance(value, dict | list) or isinstance(expected, dict | list):
        return canonical(value) == canonical(expected)
    return type(value) is type(expected) and value == expected


@dataclass
class _Budget:
    """CPU time left for one request's regex searches; the clock is read only once a regex runs (reading
    the thread's CPU time is a system call, and most grants have no regex)."""

    deadline: float | None = None

    def search(self, pattern: str, value: str) -> bool:
        if self.deadline is None:
            self.deadline = time.thread_time() + REQUEST_BUDGET_S
        remaining = self.deadline - time.thread_time()
        if remaining <= 0:
            return False
        try:
            return regex.search(pattern, value, timeout=min(remaining, SEARCH_BUDGET_S)) is not None
        except TimeoutError:
            return False


Checks = list[tuple[str, Condition]]


def ordered_checks(grant: Grant) -> Checks:
    """The grant's conditions, the most selective (exact values, sets) first: a near miss fails at once."""

    def rank(item: tuple[str, Condition]) -> int:
        condition = item[1]
        return 0 if "eq" in condition.model_fields_set else 1 if condition.in_ is not None else 2

    return sorted(grant.args.items(), key=rank)


def args_match(grant: Grant, args: dict[str, Any], budget: _Budget | None = None, checks: Checks | None = None) -> bool:
    budget = budget or _Budget()
    if not grant.extra_args:
        covered = {path.split(".", 1)[0] for path in grant.args}
        if any(key not in covered for key in args):
            return False
    return all(
        condition_holds(args, path, condition, budget.search, strictly_equal)
        for path, condition in (checks if checks is not None else grant.args.items())
    )


def sql_match(grant: Grant, sql: str | None, budget: _Budget) -> bool:
    """A request without SQL needs no SQL condition; one with SQL needs the grant's condition to hold."""
    if not sql:
        return True
    if grant.sql is None:
        return False
    return condition_holds({"sql": sql}, "sql", grant.sql, budget.search, strictly_equal)


def covers(  # noqa: PLR0913 -- a request's parts as intake holds them: no object built per request
    grant: Grant,
    agent: str,
    action: str,
    args: dict[str, Any],
    sql: str | None,
    level: RiskLevel,
    policy: Policy,
    budget: _Budget | None = None,
    checks: Checks | None = None,
) -> bool:
    """Whether the grant's conditions cover this request (uses and expiry are the store's to check)."""
    if level.rank > grant.max_level.rank or not is_grantable(level, policy.level(level)):
        return False
    if not (fnmatchcase(agent, grant.agent) and fnmatchcase(action, grant.action)):
        return False
    budget = budget or _Budget()
    return sql_match(grant, sql, budget) and args_match(grant, args, budget, checks)


def _is_glob(pattern: str) -> bool:
    return any(char in _GLOB_CHARS for char in pattern)


def _literal_prefix(glob: str) -> str:
    return glob[: min((glob.index(c) for c in _GLOB_CHARS if c in glob), default=len(glob))]


class _Globs(Generic[T]):
    """Globs filed under their literal prefix (`team-7-*` under `team-7-`): a name is tested only against
    the globs whose prefix it starts with, one dictionary look-up per prefix length of the name."""

    def __init__(self) -> None:
        self.by_prefix: dict[str, dict[str, T]] = defaultdict(dict)

    def setdefault(self, glob: str, value: T) -> T:
        return self.by_prefix[_literal_prefix(glob)].setdefault(glob, value)

    def matching(self, name: str) -> Iterator[T]:
        for length in range(len(name) + 1):
            for glob, value in self.by_prefix.get(name[:length], {}).items():
                if fnmatchcase(name, glob):
                    yield value


class _ByAction:
    def __init__(self) -> None:
        self.exact: dict[str, list[Grant]] = defaultdict(list)
        self.globs: _Globs[list[Grant]] = _Globs()

    def add(self, grant: Grant) -> None:
        if _is_glob(grant.action):
            self.globs.setdefault(grant.action, []).append(grant)
        else:
            self.exact[grant.action].append(grant)

    def find(self, action: str) -> list[Grant]:
        found = list(self.exact.get(action, ()))
        for grants in self.globs.matching(action):
            found.extend(grants)
        return found


CANDIDATE_CACHE_MAX = 4096


class GrantIndex:
    """Live grants indexed by (agent, action): exact names are dictionary look-ups, globs are filed under
    their literal prefix, and the candidates for an (agent, action) pair are remembered (agents repeat the
    same few actions), so 1,000 grants cost a dictionary look-up per request plus the conditions of the
    grants that could apply."""

    def __init__(self, grants: list[Grant]) -> None:
        self.grants = grants
        self._checks = {grant.id: ordered_checks(grant) for grant in grants}
        self._exact: dict[str, _ByAction] = defaultdict(_ByAction)
        self._globs: _Globs[_ByAction] = _Globs()
        self._cache: dict[tuple[str, str], _Candidates] = {}
        for grant in grants:
            if _is_glob(grant.agent):
                self._globs.setdefault(grant.agent, _ByAction()).add(grant)
            else:
                self._exact[grant.agent].add(grant)

    def candidates(self, agent: str, action: str) -> _Candidates:
        cached = self._cache.get((agent, action))
        if cached is not None:
            return cached
        found = self._exact[agent].find(action) if agent in self._exact else []
        for by_action in self._globs.matching(agent):
            found.extend(by_action.find(action))
        candidates = _Candidates(found, self._checks)
        if len(self._cache) >= CANDIDATE_CACHE_MAX:  # actions are the agent's to name: bounded
            self._cache.clear()
        self._cache[(agent, action)] = candidates
        return candidates

    def matching(
        self,
        agent: str,
        action: str,
        args: dict[str, Any],
        sql: str | None,
        level: RiskLevel,
        policy: Policy,
        now: datetime,
    ) -> Iterator[Grant]:
        """The live grants covering this request, checked one at a time as the caller asks for the next."""
        budget = _Budget()
        return (
            grant
            for grant in self.candidates(agent, action).for_args(args)
            if grant.state(now) == "active"
            and covers(grant, agent, action, args, sql, level, policy, budget, self._checks[grant.id])
        )


def _value_key(value: Any) -> str:
    """Equal under `strictly_equal` ⇒ equal keys (numbers by value, booleans apart from numbers)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"n:{float(value)!r}"
    return canonical(value)


def _order(grant: Grant) -> tuple[int, datetime, str]:
    # The narrowest and soonest-ending first: a use is taken from the grant that would lapse first.
    return grant.max_level.rank, grant.expires_at, grant.id


class _Candidates:
    """The grants for one (agent, action), filed by the value of their first exact-match condition: many
    grants for the same action with different exact values (`service: svc-12`) cost one look-up."""

    def __init__(self, grants: list[Grant], checks: dict[str, Checks]) -> None:
        self.by_value: dict[str, dict[str, list[Grant]]] = defaultdict(lambda: defaultdict(list))
        self.rest: list[Grant] = []
        for grant in grants:
            first = checks[grant.id][0] if checks[grant.id] else None
            if first is not None and "eq" in first[1].model_fields_set:
                self.by_value[first[0]][_value_key(first[1].eq)].append(grant)
            else:
                self.rest.append(grant)
        self.rest.sort(key=_order)

    def for_args(self, args: dict[str, Any]) -> list[Grant]:
        found = list(self.rest)
        for path, table in self.by_value.items():
            present, value = arg_value(args, path)
            if present:
                found.extend(table.get(_value_key(value), ()))
        return sorted(found, key=_order) if len(found) > len(self.rest) else found


def parse_grant(fields: dict[str, str]) -> Grant:
    document = json.loads(fields["doc"])
    document["uses"] = int(fields.get("uses") or 0)
    document["failures"] = int(fields.get("fails") or 0)
    if fields.get("rev"):
        document.update(json.loads(fields["rev"]))
    return Grant.model_validate(document)
