"""The `countersign` command: serve, worker, policy, audit (and what later issues add)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import agent_cli
from bot.errors import ConfigError
from bot.settings import Settings, load_settings
from bot.web.cli import add_web_login

log = logging.getLogger("countersign")
Command = Callable[[argparse.Namespace], int]


def resolve_redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server a running `countersign serve` started under the data dir."""
    from bot.embedded import discover_url

    if settings.redis_url:
        return settings.redis_url
    url = discover_url(settings.countersign_data_dir)
    if url is None:
        raise ConfigError("REDIS_URL: unset, and no embedded server is running under "
                          f"{settings.countersign_data_dir} (start `countersign serve` first)")
    return url


# -- serve -------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from bot.embedded import EmbeddedRedis
    from bot.logs import configure
    from bot.policy import load_policy
    from bot.runtime import build_runtime
    from bot.server import build_application, run
    from bot.supervisor import serve_workers, worker_count

    settings = load_settings()
    configure(settings.countersign_log_level)
    policy = load_policy(settings.countersign_policy)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    if (workers := worker_count(args.workers)) > 1:
        return serve_workers(settings, host, port, workers)
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = EmbeddedRedis(settings.countersign_data_dir)
        url = embedded.start()
        log.info("no REDIS_URL: started the embedded server at %s (data in %s)", url,
                 settings.countersign_data_dir)
    try:
        runtime = build_runtime(settings, url, policy=policy)
        runtime.sweep_expiry = True  # one `countersign serve` expires requests even without a worker
        app = build_application(runtime)
        log.info("Countersign listening on http://%s:%s", host, port)
        try:
            run(app, settings, host, port, new_event_loop(), reuse_port=args.reuse_port)
        except OSError as exc:  # address in use, unknown host, no permission
            raise ConfigError(f"HOST/PORT: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        if embedded:
            embedded.stop()
    return 0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (20-50 % more requests/s), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- worker ------------------------------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> int:
    from jobs.worker import run_worker

    settings = load_settings()
    return run_worker(settings, resolve_redis_url(settings), burst=args.burst, fork=args.fork)


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
        request = ApprovalCreate.model_validate({"action": args.action, "args": call_args, "sql": args.sql,
                                                 "risk": risk})
    except (ValueError, ValidationError) as exc:
        print(f"countersign: invalid --args/--risk: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    result = classify(policy, request, args.agent)
    route = result.route
    out: dict[str, Any] = {
        "level": result.level.value, "explanation": result.explanation, "reasons": result.reasons,
        "rules": result.rules,
        "decided_by_policy": result.auto_outcome, "comment": result.auto_comment,
        "route": {"channels": [f"{c.kind}:{c.target}" for c in route.channels], "approvers": route.approvers,
                  "quorum": route.quorum, "timeout": str(result.timeout), "on_timeout": route.on_timeout,
                  "escalate": [s.model_dump(mode="json") for s in route.escalate]},
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
    if result.auto_outcome:
        print(f"decided by policy: {result.auto_outcome} ({result.auto_comment})")
    else:
        print(f"route: channels {', '.join(out['route']['channels']) or '(dashboard only)'}; "
              f"approvers {', '.join(route.approvers) or 'anyone in the channel'}; quorum {route.quorum}; "
              f"timeout {result.timeout}, then {route.on_timeout}")
        for step in route.escalate:
            targets = ", ".join(f"{t.kind}:{t.target}" for t in step.targets)
            repeat = f", repeat every {step.repeat.every} x{step.repeat.times}" if step.repeat else ""
            print(f"  escalate after {step.after}: {targets}{repeat}")
    return 0


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
    return Redactor(RedactionRules.parse(load_policy(settings.countersign_policy).redact),
                    await mask_key(settings, log_.redis, log_.keys))


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
    from bot.audit_chain import KeyNeeded

    if args.file:
        return _verify_file(Path(args.file))
    try:
        result = asyncio.run(_with_audit(lambda log_, parts: log_.verify(parts[1])))
    except KeyNeeded:  # pragma: no cover - online verification always has a key
        raise ConfigError("audit verify: keyed entries need the secret key") from None
    if result.ok:
        print(f"audit chain OK: {result.checked} entries ({_counts(result.counts)})")
        return 0
    print(f"audit chain BROKEN at entry {result.entry_id}: {result.problem} "
          f"({result.checked} entries verified before it)")
    return 1


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
        raise ConfigError(f"audit verify --file: {path} holds HMAC-keyed entries: set COUNTERSIGN_SECRET_KEY (or "
                          "COUNTERSIGN_DATA_DIR to where the key file is) to verify them") from None
    if result.ok:
        print(f"{path}: audit chain OK: {result.checked} entries ({_counts(result.counts)})")
        return 0
    print(f"{path}: audit chain BROKEN at {result.where}: {result.problem} "
          f"({result.checked} entries verified before it)")
    return 1


def cmd_audit_archive(args: argparse.Namespace) -> int:
    from bot.audit_archive import ArchiveRefused, archive
    from bot.clock import SystemClock

    before = _parse_time(args.before, "--before")
    assert before is not None  # argparse requires it
    try:
        result = asyncio.run(_with_audit(lambda log_, parts: archive(
            log_, parts[0], parts[1], before, Path(args.output), SystemClock())))
    except ArchiveRefused as exc:
        where = f" at entry {exc.entry_id}" if exc.entry_id else ""
        print(f"countersign: audit archive refused{where}: {exc.message}", file=sys.stderr)
        return 1
    if not result.entries:
        print(f"no audit entries before {args.before}: nothing archived", file=sys.stderr)
        return 0
    print(f"archived {result.entries} entries (through {result.last_id}) to {args.output} and trimmed them "
          "from Redis", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="countersign", description="Human approval for AI agents' risky calls.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web service (agent API, Slack, web)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", default="1", help="server processes sharing the port (default 1; auto: one "
                                                      "per core)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # set for --workers' children
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the RQ worker (escalations, timeouts, delivery)")
    worker.add_argument("--burst", action="store_true", help="run what is queued, then exit")
    worker.add_argument("--fork", action="store_true",
                        help="run each job in a forked work horse (isolation; slower) instead of in-process")
    worker.set_defaults(func=cmd_worker)

    policy = sub.add_parser("policy", help="check or explain a policy").add_subparsers(dest="policy_cmd",
                                                                                       required=True)
    check = policy.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(func=cmd_policy_check)
    explain = policy.add_parser("explain", help="show the level, reasons and route for a call")
    explain.add_argument("--action", required=True)
    explain.add_argument("--args", help="the call's arguments as a JSON object")
    explain.add_argument("--sql")
    explain.add_argument("--agent", default="agent")
    explain.add_argument("--risk", help='risk hints as JSON, e.g. {"cost_usd": 250}')
    explain.add_argument("--policy", help="policy file (default: COUNTERSIGN_POLICY or the built-in one)")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(func=cmd_policy_explain)

    audit = sub.add_parser("audit", help="export or verify the audit trail").add_subparsers(dest="audit_cmd",
                                                                                            required=True)
    export = audit.add_parser("export", help="write the audit log")
    export.add_argument("--since")
    export.add_argument("--until")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o")
    export.set_defaults(func=cmd_audit_export)
    verify = audit.add_parser("verify", help="check the hash chain; exit 1 naming the first broken entry")
    verify.add_argument("--file", help="verify a JSONL export or archive offline instead of the chain in Redis")
    verify.set_defaults(func=cmd_audit_verify)
    archive = audit.add_parser("archive", help="write the entries before a date to a file, then trim them from "
                                               "Redis")
    archive.add_argument("--before", required=True, help="ISO 8601 date or time (UTC unless it says otherwise)")
    archive.add_argument("--output", "-o", required=True, help="the JSONL file to create (never overwritten)")
    archive.set_defaults(func=cmd_audit_archive)
    for extend in EXTENSIONS:
        extend(sub)
    return parser


# Later issues add sub-commands here (agent CLI gate, MCP server, web-login).
EXTENSIONS: list[Callable[[Any], None]] = [add_web_login, agent_cli.register]


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"countersign: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
