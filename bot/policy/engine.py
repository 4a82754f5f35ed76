"""Pure risk classification: a policy and a request in, a level, reasons and a route out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from bot.models import ApprovalCreate, RiskLevel
from bot.policy.schema import Condition, LevelPolicy, Match, NumberCondition, Policy
from bot.policy.sql import SqlClassification, classify_sql

DEFAULT_TIMEOUT = timedelta(hours=1)
_MISSING = object()
Search = Callable[[str, str], Any]


@dataclass
class Classification:
    level: RiskLevel
    reasons: list[str]
    route: LevelPolicy
    timeout: timedelta
    rules: list[str] = field(default_factory=list)
    auto_outcome: str | None = None  # "approve" or "reject" when policy decides at once
    auto_comment: str | None = None
    sql_kinds: list[str] = field(default_factory=list)
    # How the level came about, step by step, for `countersign policy explain`.
    explanation: list[str] = field(default_factory=list)
    # What of the agent's request was not honoured, told back to it on the 201 (never silently dropped).
    warnings: list[str] = field(default_factory=list)


def ignored_timeout_warning(level: RiskLevel, timeout: timedelta) -> str:
    seconds = int(timeout.total_seconds())
    return (
        f"timeout_s ignored: level {level.value} has on_timeout: approve, so the level's own timeout "
        f"({seconds} s) applies and a person is asked"
    )


def _globs(pattern: str | list[str]) -> list[str]:
    return [pattern] if isinstance(pattern, str) else pattern


def _lookup(args: dict[str, Any], path: str) -> Any:
    value: Any = args
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _compare(value: Any, condition: NumberCondition | Condition) -> bool:
    number = _number(value)
    bounds = [
        ("gt", lambda a, b: a > b),
        ("gte", lambda a, b: a >= b),
        ("lt", lambda a, b: a < b),
        ("lte", lambda a, b: a <= b),
    ]
    for name, check in bounds:
        bound = getattr(condition, name)
        if bound is not None and (number is None or not check(number, bound)):
            return False
    return True


def _loose_equal(value: Any, expected: Any) -> bool:
    return bool(value == expected)


def _condition_holds(
    value: Any, condition: Condition, search: Search = re.search, equal: Callable[[Any, Any], bool] = _loose_equal
) -> bool:
    if condition.exists is not None and (value is not _MISSING) != condition.exists:
        return False
    if value is _MISSING:
        return condition.exists is False
    if "eq" in condition.model_fields_set and not equal(value, condition.eq):
        return False
    if "ne" in condition.model_fields_set and equal(value, condition.ne):
        return False
    if condition.in_ is not None and not any(equal(value, option) for option in condition.in_):
        return False
    if condition.regex is not None and not (isinstance(value, str) and search(condition.regex, value)):
        return False
    return _compare(value, condition)


def arg_value(args: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted argument path, looked up as rules look it up."""
    value = _lookup(args, path)
    return value is not _MISSING, None if value is _MISSING else value


def condition_holds(
    args: dict[str, Any], path: str, condition: Condition, search: Search, equal: Callable[[Any, Any], bool]
) -> bool:
    """One argument condition, as rules test it (same path look-up and operators), with the caller's regex
    search and equality: standing grants bound the search's time and compare types strictly."""
    return _condition_holds(_lookup(args, path), condition, search, equal)


def _describe(condition: Condition | NumberCondition) -> str:
    parts = [f"{name} {value!r}" for name, value in condition.model_dump(by_alias=True).items() if value is not None]
    return ", ".join(parts)


def match_rule(  # noqa: C901 -- one branch per match condition, read top to bottom like docs/policy.md's table
    match: Match, request: ApprovalCreate, agent: str, sql: SqlClassification | None
) -> list[str] | None:
    """The reasons each condition holds, or None when any condition fails."""
    reasons: list[str] = []
    if match.action is not None:
        if not any(fnmatchcase(request.action, g) for g in _globs(match.action)):
            return None
        reasons.append(f"action: {request.action}")
    if match.agent is not None:
        if not any(fnmatchcase(agent, g) for g in _globs(match.agent)):
            return None
        reasons.append(f"agent: {agent}")
    for path, condition in (match.args or {}).items():
        value = _lookup(request.args, path)
        if not _condition_holds(value, condition):
            return None
        reasons.append(f"args.{path}: {_describe(condition)}")
    if match.cost_usd is not None:
        cost = request.risk.cost_usd
        if (
            cost is None
            or not _compare(cost, match.cost_usd)
            or (match.cost_usd.eq is not None and cost != match.cost_usd.eq)
        ):
            return None
        reasons.append(f"cost_usd: {cost:g} ({_describe(match.cost_usd)})")
    if match.data_sensitivity is not None:
        wanted = {s.lower() for s in _globs(match.data_sensitivity)}
        given = (request.risk.data_sensitivity or "").lower()
        if given not in wanted:
            return None
        reasons.append(f"data_sensitivity: {given}")
    if match.reversible is not None:
        reversible = request.risk.reversible
        if reversible is None:
            reversible = request.context.reversible
        if reversible is None or reversible != match.reversible:
            return None
        reasons.append(f"reversible: {str(reversible).lower()}")
    if match.sql is not None:
        # Any listed kind is enough to match; `_may_lower` below decides whether the match may set the level.
        hit = sorted(set(match.sql) & set(sql.kinds if sql else ()))
        if not hit:
            return None
        reasons.append(f"sql: {', '.join(hit)}")
    return reasons


def _raise_only(match: Match, sql: SqlClassification | None) -> str | None:
    """Why a matching rule may raise the level but not set it (and so not lower it), or None if it may.

    A rule that tests what only the agent claims (cost, sensitivity, reversibility) is raise-only, and so is
    an `sql` rule unless every statement, and everything inside it, is of a listed kind: `sql: [SELECT]`
    is no door for "SELECT 1; DELETE FROM users", while `sql: [DROP]` still catches a DROP hidden after it.
    """
    if match.cost_usd is not None or match.data_sensitivity is not None or match.reversible is not None:
        return "tests the agent's risk hints"
    if match.sql is not None and not (sql and sql.kinds <= set(match.sql)):
        return "not every statement is of its kinds"
    return None


def _add(reasons: list[str], new: list[str]) -> None:
    reasons.extend(r for r in new if r not in reasons)


def classify(  # noqa: C901 -- the raise-never-lower steps in the order docs/policy.md gives them
    policy: Policy, request: ApprovalCreate, agent: str
) -> Classification:
    """The policy's level (highest matching rule, else `default_level`), raised — never lowered — by what
    the agent says: its SQL, its risk hints and its own `risk.level`."""
    sql = classify_sql(request.sql) if request.sql else None
    setting: list[tuple[str, RiskLevel, list[str]]] = []  # rules that set the policy's level
    raise_only: list[tuple[str, RiskLevel, list[str]]] = []
    denials: list[str] = []
    rules: list[str] = []
    for rule in policy.rules:
        rule_reasons = match_rule(rule.match, request, agent, sql)
        if rule_reasons is None:
            continue
        rules.append(rule.name)
        if rule.deny is not None:
            denials.append(f"rule {rule.name}: {rule.deny}")
        elif why := _raise_only(rule.match, sql):
            raise_only.append((f"rule {rule.name} ({why})", rule.level or policy.default_level, rule_reasons))
        else:
            setting.append((rule.name, rule.level or policy.default_level, rule_reasons))
    reasons = [f"denied by {denial.split(':', 1)[0]}" for denial in denials]
    if setting:
        base = RiskLevel.highest([lvl for _, lvl, _ in setting])
        explanation = [f"policy: rule {', '.join(n for n, lvl, _ in setting if lvl == base)} → {base.value}"]
        for _, _, rule_reasons in setting:
            _add(reasons, rule_reasons)
    else:
        base = policy.default_level
        explanation = [f"policy: default_level {base.value}"]
    # Each agent signal: (where it comes from, its level, its reasons, whether they show).
    signals = [(source, lvl, rule_reasons, lvl.rank >= base.rank) for source, lvl, rule_reasons in raise_only]
    if sql is not None:  # SQL reasons always show: approvers read what the SQL does
        signals.append(("; ".join(sql.deciding), sql.level, sql.reasons, True))
    if request.risk.level is not None:
        hint = f"agent risk.level: {request.risk.level.value}"
        signals.append((hint, request.risk.level, [hint], request.risk.level.rank > base.rank))
    level = base
    for source, raised, signal_reasons, shown in signals:
        if shown:
            _add(reasons, signal_reasons)
        if raised.rank > level.rank:
            level = raised
            explanation.append(f"raised by {source} → {raised.value}")
        else:
            explanation.append(f"not raised by {source} ({raised.value})")
    if not setting and level == base:
        reasons.insert(len(denials), f"default_level: {base.value}")
    explanation += [f"denied by {denial}" for denial in denials]
    denial = denials[0] if denials else None
    route = policy.level(level)
    timeout = route.timeout or DEFAULT_TIMEOUT
    # The agent may set its own timeout, except where a timeout approves: there a short timeout_s would let
    # the agent skip the people it is asking.
    warnings = []
    if request.timeout_s and route.on_timeout != "approve":
        timeout = timedelta(seconds=request.timeout_s)
    elif request.timeout_s:
        warnings.append(ignored_timeout_warning(level, timeout))
    result = Classification(
        level,
        reasons,
        route,
        timeout,
        rules,
        sql_kinds=sorted(sql.kinds) if sql else [],
        explanation=explanation,
        warnings=warnings,
    )
    if denial is not None:
        result.auto_outcome, result.auto_comment = "reject", denial
    elif route.deny is not None:
        result.auto_outcome, result.auto_comment = "reject", f"level {level.value}: {route.deny}"
    elif route.auto_approve:
        result.auto_outcome, result.auto_comment = "approve", f"level {level.value}: auto_approve"
    return result
