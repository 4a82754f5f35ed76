"""A local Slack: a Web API emulator (aiohttp on loopback) and a player of Slack's signed requests.

The emulator answers the methods Countersign calls the way Slack does (`ok`, `ts`, `channel`, errors,
`ratelimited` 429 with `Retry-After` on demand) and records every call, so tests assert on what Slack
would have seen. `SlackPlayer` posts interactions into the app exactly as Slack does: form-encoded
`payload=` for block_actions and view_submission, form fields for slash commands, JSON for events, each
signed with `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.support.loopback import start_on_loopback

BOT_TOKEN = "xoxb-test-0000-countersign"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0TEST"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    status: int = 200


@dataclass
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    updates: int = 0

    @property
    def action_ids(self) -> list[str]:
        return [
            e.get("action_id", "") for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])
        ]

    @property
    def all_text(self) -> str:
        return json.dumps(self.blocks, ensure_ascii=False)


@dataclass
class SlackEmulator:
    token: str = BOT_TOKEN
    channels: dict[str, str] = field(default_factory=lambda: {"approvals": "C0APPROVALS", "ops": "C0OPS"})
    missing_channels: set[str] = field(default_factory=lambda: {"#nowhere", "C0MISSING"})
    usergroups: dict[str, tuple[str, list[str]]] = field(default_factory=lambda: {"S0ONCALL": ("oncall", ["U0ONCALL"])})
    emails: dict[str, str] = field(default_factory=lambda: {"U0ADA": "ada@example.com"})
    # conversations.members; U0EVE is in no channel.
    channel_members: dict[str, list[str]] = field(
        default_factory=lambda: {
            channel: ["U0ADA", "U0BOB", "U0GRACE", "U0ONCALL", *(f"U0P{i:02d}" for i in range(20))]
            for channel in ("C0APPROVALS", "C0OPS")
        }
    )
    # Slack's per-channel posting limit, enforced when set: a faster post gets a 429.
    min_post_interval: float | None = None
    # While set and not yet released, chat.postMessage waits (shows that intake never waits for Slack).
    hold_posts: asyncio.Event | None = None
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], PostedMessage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ratelimit_next: dict[str, list[int]] = defaultdict(list)
        self._last_post: dict[str, float] = {}
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- control -----------------------------------------------------------------------------------
    def ratelimit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` get `429 ratelimited` with `Retry-After`."""
        self._ratelimit_next[method].extend([retry_after] * times)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/response/{name}"

    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def posted(self) -> list[PostedMessage]:
        return list(self.messages.values())

    def message_for(self, approval_id: str) -> PostedMessage:
        for message in self.messages.values():
            if approval_id in message.all_text:
                return message
        raise AssertionError(f"no message for {approval_id}")

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        seconds: float = 5.0,
        where: Callable[[Call], bool] | None = None,
        ok_only: bool = True,
    ) -> list[Call]:
        """Await until `count` successful calls of `method` (matching `where`) have arrived."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method, ok_only) if where is None or where(c)]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), seconds)
        return matching()

    # -- server ------------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        self._runner, self.url = await start_on_loopback(app)

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        return args

    async def _response_url(self, request: web.Request) -> web.Response:
        await self._record(Call("response_url", await request.json(), time.monotonic()))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        now = time.monotonic()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            await self._record(Call(method, args, now, 401))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        limit = self._ratelimit_next.get(method)
        too_fast = (
            method == "chat.postMessage"
            and self.min_post_interval is not None
            and now - self._last_post.get(str(args.get("channel")), -1e9) < self.min_post_interval
        )
        if limit or too_fast:
            retry_after = limit.pop(0) if limit else 1
            await self._record(Call(method, args, now, 429))
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)}
            )
        if method == "chat.postMessage" and self.hold_posts is not None:
            await self.hold_posts.wait()
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            await self._record(Call(method, args, now, 404))
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        body = handler(args)
        await self._record(Call(method, args, now, 200 if body.get("ok") else 400))
        return web.json_response(body)

    # -- methods -----------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _channel_id(self, target: str) -> str | None:
        if target in self.missing_channels:
            return None
        if target.startswith("#"):
            return self.channels.get(target[1:], "C0" + hashlib.sha1(target.encode()).hexdigest()[:8].upper())
        if target.startswith(("U", "W")):
            return "D" + target[1:]  # a DM with the bot
        return target

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "countersign",
            "team_id": TEAM_ID,
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        self._last_post[str(args["channel"])] = time.monotonic()
        ts = self._next_ts()
        blocks = args.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        self.messages[(channel, ts)] = PostedMessage(channel, ts, str(args.get("text", "")), blocks)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel")), str(args.get("ts")))
        message = self.messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.blocks = args.get("blocks") or []
        message.text = str(args.get("text", ""))
        message.updates += 1
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if self._channel_id(str(args.get("channel", ""))) is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {**(args.get("view") or {}), "id": f"V{next(self._ts):08d}"}}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("view_id") and not args.get("external_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {**(args.get("view") or {}), "id": args.get("view_id")}}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {**(args.get("view") or {}), "id": f"V{next(self._ts):08d}"}}

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "usergroups": [
                {"id": gid, "handle": handle, "name": handle} for gid, (handle, _users) in self.usergroups.items()
            ],
        }

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup")))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": group[1]}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Pages of one, so that callers must follow `next_cursor` as they must with Slack."""
        channels = [{"id": cid, "name": name} for name, cid in self.channels.items()]
        start = int(args.get("cursor") or 0)
        more = start + 1 < len(channels)
        return {
            "ok": True,
            "channels": channels[start : start + 1],
            "response_metadata": {"next_cursor": str(start + 1) if more else ""},
        }

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Pages of two, so that callers must follow `next_cursor` as they must with Slack."""
        members = self.channel_members.get(str(args.get("channel")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        start = int(args.get("cursor") or 0)
        page = members[start : start + 2]
        more = start + 2 < len(members)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": str(start + 2) if more else ""}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user"))
        profile = {"email": self.emails[user]} if user in self.emails else {}
        return {"ok": True, "user": {"id": user, "name": user.lower(), "profile": profile}}


def signature(secret: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


@dataclass
class SlackPlayer:
    """Plays Slack's requests into the app at `POST /slack/events`, signed as Slack signs them."""

    client: TestClient  # type: ignore[type-arg]
    emulator: SlackEmulator
    secret: str = SIGNING_SECRET
    path: str = "/slack/events"
    _triggers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        age_s: float = 0,
        secret: str | None = None,
    ) -> tuple[int, str]:
        timestamp = str(int(time.time() - age_s))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(secret or self.secret, timestamp, body),
        }
        response = await self.client.post(self.path, data=body.encode(), headers=headers)
        return response.status, await response.text()

    async def payload(self, payload: dict[str, Any], **options: Any) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.send(body, "application/x-www-form-urlencoded", **options)

    @staticmethod
    def user(user_id: str, name: str | None = None) -> dict[str, Any]:
        name = name or user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}

    def block_action(
        self,
        user_id: str,
        action_id: str,
        value: str,
        *,
        message: PostedMessage | None = None,
        name: str | None = None,
        ephemeral: bool = False,
        home: bool = False,
    ) -> dict[str, Any]:
        trigger = f"{next(self._triggers)}.{int(time.time())}.trigger"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "test"},
            "user": self.user(user_id, name),
            "api_app_id": "A0APP",
            "token": "legacy-unused",
            "trigger_id": trigger,
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": f"decide:{value}",
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                    "text": {"type": "plain_text", "text": action_id},
                }
            ],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "V0HOME"}
            payload["view"] = {"id": "V0HOME", "type": "home"}
        else:
            channel = message.channel if message else "C0APPROVALS"
            payload["container"] = {
                "type": "message",
                "message_ts": message.ts if message else "1.1",
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": channel, "name": "approvals"}
            payload["response_url"] = self.emulator.response_url(trigger)
            if message and not ephemeral:
                payload["message"] = {
                    "type": "message",
                    "ts": message.ts,
                    "text": message.text,
                    "blocks": message.blocks,
                }
        return payload

    async def click(self, user_id: str, action_id: str, value: str, **options: Any) -> tuple[int, str]:
        return await self.payload(self.block_action(user_id, action_id, value, **options))

    async def submit_view(
        self, user_id: str, view: dict[str, Any], values: dict[str, dict[str, str]], name: str | None = None
    ) -> tuple[int, str]:
        """Submit a modal the app opened; `values` is {block_id: {action_id: text}}."""
        state = {
            block: {action: {"type": "plain_text_input", "value": text} for action, text in actions.items()}
            for block, actions in values.items()
        }
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "test"},
            "user": self.user(user_id, name),
            "api_app_id": "A0APP",
            "token": "legacy-unused",
            "trigger_id": f"{next(self._triggers)}.trigger",
            "view": {
                **view,
                "id": view.get("id", "V0MODAL"),
                "team_id": TEAM_ID,
                "state": {"values": state},
                "hash": "1.abc",
            },
            "response_urls": [],
        }
        return await self.payload(payload)

    async def command(
        self, user_id: str, text: str = "", command: str = "/approvals", **options: Any
    ) -> tuple[int, str]:
        fields = {
            "token": "legacy-unused",
            "team_id": TEAM_ID,
            "team_domain": "test",
            "channel_id": "C0OPS",
            "channel_name": "ops",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0APP",
            "response_url": self.emulator.response_url("cmd"),
            "trigger_id": f"{next(self._triggers)}.trigger",
        }
        return await self.send(urlencode(fields), "application/x-www-form-urlencoded", **options)

    async def event(self, event: dict[str, Any], **options: Any) -> tuple[int, str]:
        body = json.dumps(
            {
                "token": "legacy-unused",
                "team_id": TEAM_ID,
                "api_app_id": "A0APP",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{next(self._triggers)}",
                "event_time": int(time.time()),
            }
        )
        return await self.send(body, "application/json", **options)


@asynccontextmanager
async def slack_emulator(**options: Any) -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(**options)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
