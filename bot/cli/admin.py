"""Operator commands: `policy check|explain`, `audit export|verify|archive`, `web-login`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.settings import load_settings


# -- policy ------------------------------------------------------------------------------------------
def cmd_policy_check(args: argparse.Namespace) -> int:
    from bot.policy import parse_policy

    path = Path(args.file)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    policy = parse_policy(text, str(path))
    print(f"{path}: OK ({len(policy.rules)} rules, levels: {', '.join(sorted(policy.levels)) or 'defaults'})")
    return 0


def cmd_policy_explain(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from bot.models import ApprovalCreate
    from bot.policy import classify, load_policy, parse_policy

    if args.policy:
        policy = parse_policy(Path(args.policy).read_text(), args.policy)
    else:
        policy = load_policy(load_settings().countersign_policy)
    try:
        call_args = json.loads(args.args) if args.args else {}
        risk = json.loads(args.risk) if args.risk else {}
        request = ApprovalCreate.model_validate(
            {"action": args.action, "args": call_args, "sql": args.sql, "risk": risk}
        )
    except ValidationError as exc:
        # Name each field: "--risk cost_usd: Input should be a valid number".
        for error in exc.errors():
            root, *path = [str(part) for part in error["loc"]] or ["request"]
            flag = {"risk": "--risk", "args": "--args", "sql": "--sql", "action": "--action"}.get(root, root)
            print(f"countersign: invalid {flag}{' ' + '.'.join(path) if path else ''}: {error['msg']}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"countersign: invalid --args/--risk: not JSON ({str(exc).splitlines()[0]})", file=sys.stderr)
        return 2
    result = classify(policy, request, args.agent)
    route = result.route
    grant_line = _grant_that_applies(policy, request, args.agent)
    out: dict[str, Any] = {
        "level": result.level.value,
        "explanation": result.explanation,
        "reasons": result.reasons,
        "rules": result.rules,
        "decided_by_policy": result.auto_outcome,
        "comment": result.auto_comment,
        "route": {
            "channels": [f"{c.kind}:{c.target}" for c in route.channels],
            "approvers": route.approvers,
            "quorum": route.quorum,
            "timeout": str(result.timeout),
            "on_timeout": route.on_timeout,
            "escalate": [s.model_dump(mode="json") for s in route.escalate],
        },
        "grant": grant_line,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"level: {out['level']}")
    for line in result.explanation:
        print(f"  {line}")
    for reason in result.reasons:
        print(f"  because {reason}")
    if result.rules:
        print(f"rules matched: {', '.join(result.rules)}")
    print(f"grant: {grant_line}")
    if result.auto_outcome:
        print(f"decided by policy: {result.auto_outcome} ({result.auto_comment})")
    else:
        print(
            f"route: channels {', '.join(out['route']['channels']) or '(dashboard only)'}; "
            f"approvers {', '.join(route.approvers) or 'anyone in the channel'}; quorum {route.quorum}; "
            f"timeout {result.timeout}, then {route.on_timeout}"
        )
        for step in route.escalate:
            targets = ", ".join(f"{t.kind}:{t.target}" for t in step.targets)
            repeat = f", repeat every {step.repeat.every} x{step.repeat.times}" if step.repeat else ""
            print(f"  escalate after {step.after}: {targets}{repeat}")
    return 0


def _grant_that_applies(policy: Any, request: Any, agent: str) -> str:
    """Which standing grant would approve this call now, read from the server's Redis (if it can be reached)."""
    from bot.bootstrap import build_runtime, resolve_redis_url

    async def look() -> str:
        settings = load_settings()
        runtime = build_runtime(settings, resolve_redis_url(settings), policy=policy)
        try:
            grant = await asyncio.wait_for(runtime.trust.which(request, agent), 5)
        finally:
            await runtime.redis.aclose()
        if grant is None:
            return "none would apply"
        return f"{grant.id} (by {grant.created_by.name or grant.created_by.id}, until {grant.expires_at.isoformat()})"

    try:
        return asyncio.run(look())
    except Exception as exc:  # noqa: BLE001 — no server to ask: the policy part still stands
        return f"not checked ({type(exc).__name__}: {str(exc)[:120]})"


# -- audit -------------------------------------------------------------------------------------------
def _parse_time(value: str | None, option: str = "--since/--until") -> int | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


async def _with_audit(fn: Callable[[Any, Any], Any]) -> Any:
    """Runs fn(audit log, runtime parts) against the configured Redis, with the same key the server uses."""
    from bot.audit import AuditLog
    from bot.bootstrap import resolve_redis_url
    from bot.keys import Keys
    from bot.runtime import redis_client
    from bot.secrets import audit_key
    from bot.store import Store

    settings = load_settings()
    redis = redis_client(resolve_redis_url(settings))
    keys = Keys(settings.countersign_redis_prefix)
    try:
        key = await audit_key(settings, redis, keys)
        store = Store(redis, keys, settings.retention_seconds, lambda: _ready(key))
        return await fn(AuditLog(redis, keys), (store, key))
    finally:
        await redis.aclose()


async def _redactor_for(log_: Any) -> Any:
    """The policy's `redact:` rules with the server's masking key, for exports."""
    from bot.policy import load_policy
    from bot.redaction import RedactionRules, Redactor
    from bot.runtime import mask_key

    settings = load_settings()
    return Redactor(
        RedactionRules.parse(load_policy(settings.countersign_policy).redact),
        await mask_key(settings, log_.redis, log_.keys),
    )


async def _ready(value: Any) -> Any:
    return value


def cmd_audit_export(args: argparse.Namespace) -> int:
    since, until = _parse_time(args.since), _parse_time(args.until)
    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:

        async def export(log_: Any, _: Any) -> int:
            return int(await log_.export(out, args.format, since, until, await _redactor_for(log_)))

        count = asyncio.run(_with_audit(export))
    finally:
        if args.output:
            out.close()
    print(f"exported {count} entries", file=sys.stderr)
    return 0


def _counts(counts: dict[str, int]) -> str:
    return f"{counts['keyed']} keyed with HMAC-SHA256, {counts['plain']} plain from before keying"


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from bot.audit_chain import KeyNeeded

    # Exit 1 is tampering's alone; anything that keeps the check from running exits CANNOT_CHECK.
    try:
        if args.file:
            return _verify_file(Path(args.file))
        result = asyncio.run(_with_audit(lambda log_, parts: log_.verify(parts[1])))
    except KeyNeeded:  # pragma: no cover - online verification always has a key
        return _cannot_check("keyed entries need the secret key")
    except ConfigError as exc:
        return _cannot_check(exc.message)
    except (RedisError, OSError) as exc:
        return _cannot_check(f"cannot reach Redis: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if result.ok:
        print(f"audit chain OK: {result.checked} entries ({_counts(result.counts)})")
        return 0
    print(
        f"audit chain BROKEN at entry {result.entry_id}: {result.problem} ({result.checked} entries verified before it)"
    )
    return 1


EXIT_CANNOT_CHECK = 2  # as for any setting or file problem: never 1, which is tampering's


def _cannot_check(reason: str) -> int:
    print(f"countersign: audit verify could not check the trail: {reason}", file=sys.stderr)
    return EXIT_CANNOT_CHECK


def _verify_file(path: Path) -> int:
    from bot.audit_chain import KeyNeeded, verify_lines
    from bot.secrets import AuditKey, existing_key

    try:
        text = path.read_text(encoding="utf-8")
        lines = [(number, json.loads(line)) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not all(isinstance(line, dict) for _, line in lines):
            raise ValueError("a line is not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise ConfigError(f"audit verify --file: {path}: not a readable JSONL audit export ({reason})") from None
    master = existing_key(load_settings())
    try:
        result = verify_lines(lines, AuditKey.from_master(master) if master else None)
    except KeyNeeded:
        raise ConfigError(
            f"audit verify --file: {path} holds HMAC-keyed entries: set COUNTERSIGN_SECRET_KEY (or "
            "COUNTERSIGN_DATA_DIR to where the key file is) to verify them"
        ) from None
    if result.ok:
        print(f"{path}: audit chain OK: {result.checked} entries ({_counts(result.counts)})")
        return 0
    print(
        f"{path}: audit chain BROKEN at {result.where}: {result.problem} ({result.checked} entries verified before it)"
    )
    return 1


def cmd_audit_archive(args: argparse.Namespace) -> int:
    from bot.audit_archive import ArchiveRefused, archive
    from bot.clock import SystemClock

    before = _parse_time(args.before, "--before")
    assert before is not None  # argparse requires it
    try:
        result = asyncio.run(
            _with_audit(lambda log_, parts: archive(log_, parts[0], parts[1], before, Path(args.output), SystemClock()))
        )
    except ArchiveRefused as exc:
        where = f" at entry {exc.entry_id}" if exc.entry_id else ""
        print(f"countersign: audit archive refused{where}: {exc.message}", file=sys.stderr)
        return 1
    if not result.entries:
        print(f"no audit entries before {args.before}: nothing archived", file=sys.stderr)
        return 0
    print(
        f"archived {result.entries} entries (through {result.last_id}) to {args.output} and trimmed them from Redis",
        file=sys.stderr,
    )
    return 0


# -- web-login ---------------------------------------------------------------------------------------
async def _link(email: str, admin: bool) -> str:
    from bot.bootstrap import resolve_redis_url
    from bot.channels.web.auth import WebAuth
    from bot.clock import SystemClock
    from bot.keys import Keys
    from bot.runtime import redis_client

    settings = load_settings()
    redis = redis_client(resolve_redis_url(settings))
    try:
        auth = WebAuth(settings, redis, Keys(settings.countersign_redis_prefix))
        return await auth.make_link(email, SystemClock().now(), admin=admin)
    finally:
        await redis.aclose()


def cmd_web_login(args: argparse.Namespace) -> int:
    from bot.channels.web.auth import normalise_email

    email = normalise_email(args.email)
    if email is None:
        raise ConfigError(f"web-login: {args.email!r} is not an email address")
    print(asyncio.run(_link(email, args.admin)))
    return 0
