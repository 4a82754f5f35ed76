"""Slack's request signature, checked at the door of `POST /slack/events` before Bolt sees the request."""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_AGE_S = 5 * 60
# Only plain ASCII digits: `int()` would also take " 17", "+17", "1_7" and other scripts' digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signature_ok(signing_secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> bool:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` over the raw bytes, timestamp within 5 minutes.
    Anything malformed (a missing header, a timestamp that is not a number) is simply not valid."""
    if not signing_secret or not timestamp or not signature or not _TIMESTAMP.fullmatch(timestamp):
        return False
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
