"""The Redis keys of the SMS channel, in one place: every `sms:*` family is named here."""

from __future__ import annotations

from bot.keys import Keys


def code_of(keys: Keys, approval_id: str) -> str:
    """approval ID → its reply code."""
    return keys.named(f"sms:code-of:{approval_id}")


def code(keys: Keys, reply_code: str) -> str:
    """reply code → approval ID."""
    return keys.named(f"sms:code:{reply_code}")


def texted(keys: Keys, approval_id: str) -> str:
    """The set of numbers a request was texted to: only they may answer it."""
    return keys.named(f"sms:to:{approval_id}")


def message_sid(keys: Keys, sid: str) -> str:
    """A Twilio message SID already handled (Twilio retries a webhook)."""
    return keys.named(f"sms:sid:{sid}")
