"""SMS through Twilio's REST API: the short reply code, the outbound text, and sending it."""

from __future__ import annotations

import base64
import re
import secrets

import aiohttp
from redis.asyncio import Redis

from bot.channels.common import DeliveryError
from bot.channels.common.plain import sms_item
from bot.channels.sms import keys as sms_keys
from bot.display import arg_rows, one_line
from bot.keys import Keys
from bot.models import Approval
from bot.settings import Settings
from bot.summary import summarize

MAX_SMS = 319  # under Twilio's two-segment 320
# Reply codes: 6 characters with nothing a person could misread or mistype on a phone (no 0/O/Q, 1/I/L,
# 2/Z, 5/S, 6/G, 8/B, U/V): 21 ** 6 ≈ 86 million codes, guessed at most 5 times per number per 15 minutes.
CODE_ALPHABET = "ACDEFHJKMNPRTWXY34679"
CODE_LENGTH = 6
# Any letters and digits are read (and upper-cased), so an old all-digit code still answers and a wrong
# one is counted as a wrong code rather than called unreadable.
REPLY = re.compile(r"^\s*(yes|y|approve|no|n|reject)\s+([a-z0-9]{4,12})\b\s*(.*)$", re.IGNORECASE | re.DOTALL)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def reply_code(text: str) -> str:
    """A code as typed (`k7m3wx`) → as stored (`K7M3WX`)."""
    return text.strip().upper()


async def code_for(redis: Redis, keys: Keys, approval_id: str, ttl_s: int) -> str:
    """The request's reply code (see CODE_ALPHABET), allocated once."""
    mine = sms_keys.code_of(keys, approval_id)
    existing = await redis.get(mine)
    if existing:
        return str(existing)
    for _attempt in range(40):
        code = new_code()
        if await redis.set(sms_keys.code(keys, code), approval_id, nx=True, ex=ttl_s):
            if await redis.set(mine, code, nx=True, ex=ttl_s):
                return code
            # Another worker allocated one at the same moment: keep theirs.
            await redis.delete(sms_keys.code(keys, code))
            return await code_for(redis, keys, approval_id, ttl_s)
    raise DeliveryError("no free SMS reply code")


async def approval_for_code(redis: Redis, keys: Keys, code: str) -> str | None:
    value = await redis.get(sms_keys.code(keys, code))
    return None if value is None else str(value)


SMS_VALUE_MAX = 40  # characters of one argument value in a text


def _unquoted(text: str) -> str:
    """Agent text between our « » cannot close the quote early and write on as if it were ours."""
    return text.replace("«", "‹").replace("»", "›")


def sms_text(approval: Approval, code: str, link: str) -> str:
    """The outbound text, under 320 characters, e.g. `[HIGH · NOT reversible] Approval needed. Agent billing-agent asks:
    «delete_user_data(user_id=user_123)». Reply YES 4821 or NO 4821 reason. Full request: <link>`.
    Arguments go field by field, those a policy rule matched first, each value cut on its own; when
    anything is left out the text says so. The agent's part is between « and », on one line."""
    facts = summarize(approval, approval.created_at)
    # Ours, before the agent's part: the amount (a number we format) and whether it can be undone.
    notes = "".join(
        [
            f" · {facts.amount.split(' (')[0]}" if facts.amount else "",
            " · NOT reversible" if facts.reversible is False else "",
        ]
    )
    agent = _unquoted(one_line(approval.agent, 40))
    head = f"[{approval.risk_level.value.upper()}{notes}] Approval needed. Agent {agent} asks: «"
    tail = f". Reply YES {code} or NO {code} reason. Full request: {link}"
    action = _unquoted(one_line(approval.action, 60))
    rows = arg_rows(approval, SMS_VALUE_MAX, 30)
    items = [_unquoted(sms_item(row, SMS_VALUE_MAX)) for row in rows.rows]
    shortened = any(row.cut for row in rows.rows)

    def text(shown: int) -> str:
        left_out = len(items) - shown + rows.more
        notes = [f"{left_out} fields not shown"] if left_out else []
        if shortened:
            notes.append("values cut")
        note = f" [{', '.join(notes)}]" if notes else ""
        return f"{head}{action}({', '.join(items[:shown])})»{note}{tail}"

    shown = len(items)
    while shown > 0 and len(text(shown)) > MAX_SMS:
        shown -= 1
    body = text(shown)
    if len(body) > MAX_SMS:  # a very long link or agent name: our tail stays whole
        room = max(0, MAX_SMS - len(tail) - 1)
        body = body[: len(body) - len(tail)][:room] + "…" + tail
    return body[:MAX_SMS]


def batch_sms_text(count: int, most_urgent: Approval, code: str, link: str) -> str:
    """Several requests due for one number: the count, the most urgent one's code, and the dashboard,
    e.g. `[HIGH] 5 approvals need you. Most urgent: Agent billing-agent asks «delete_user_data». Reply YES
    K7M3WX or NO K7M3WX reason for that one. All of them: <link>`. The agent's part is between « and »."""
    head = f"[{most_urgent.risk_level.value.upper()}] {count} approvals need you. Most urgent: Agent "
    tail = f". Reply YES {code} or NO {code} reason for that one. All of them: {link}"
    agent, action = (
        _unquoted(one_line(text, limit)) for text, limit in ((most_urgent.agent, 40), (most_urgent.action, 60))
    )
    body = f"{head}{agent} asks «{action}»{tail}"
    if len(body) > MAX_SMS:  # a very long link: our tail stays whole
        body = f"{head}{agent} asks «…»{tail}"
    return body[:MAX_SMS]


async def send_sms(settings: Settings, session: aiohttp.ClientSession, to: str, body: str) -> str:
    """POST to Twilio's Messages resource; returns the message SID once Twilio accepted it."""
    sid, token = settings.twilio_account_sid or "", settings.twilio_auth_token or ""
    url = f"{settings.twilio_api_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
    try:
        async with session.post(
            url,
            data={"To": to, "From": settings.twilio_from or "", "Body": body},
            headers={"Authorization": basic_auth(sid, token)},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as response:
            payload = await response.json(content_type=None)
            if response.status >= 300:
                message = payload.get("message") if isinstance(payload, dict) else None
                raise DeliveryError(f"Twilio answered {response.status}: {message or 'error'}")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise DeliveryError(f"Twilio: {exc}") from exc
    return str(payload.get("sid", "")) if isinstance(payload, dict) else ""
