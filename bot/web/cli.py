"""`countersign web-login EMAIL`: print a one-time dashboard sign-in link (for the first admin)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


async def _link(email: str, admin: bool) -> str:
    from bot.cli import load_settings, resolve_redis_url
    from bot.clock import SystemClock
    from bot.keys import Keys
    from bot.runtime import redis_client
    from bot.web.auth import WebAuth

    settings = load_settings()
    redis = redis_client(resolve_redis_url(settings))
    try:
        auth = WebAuth(settings, redis, Keys(settings.countersign_redis_prefix))
        return await auth.make_link(email, SystemClock().now(), admin=admin)
    finally:
        await redis.aclose()


def cmd_web_login(args: argparse.Namespace) -> int:
    from bot.errors import ConfigError
    from bot.web.auth import normalise_email

    email = normalise_email(args.email)
    if email is None:
        raise ConfigError(f"web-login: {args.email!r} is not an email address")
    print(asyncio.run(_link(email, args.admin)))
    return 0


def add_web_login(sub: Any) -> None:
    parser = sub.add_parser("web-login", help="print a one-time dashboard sign-in link (15 minutes)")
    parser.add_argument("email")
    parser.add_argument("--admin", action="store_true",
                        help="the session may decide any request, like an approver API key")
    parser.set_defaults(func=cmd_web_login)
