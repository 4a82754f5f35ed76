"""Checking signed agent callbacks: `X-Countersign-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
keyed with the agent's API key. The server signs in its callbacks channel (the SDK imports nothing of the server,
nor the server's channels the SDK); tests/escalation/test_callbacks_sdk_verify.py checks that a real delivery
verifies here. `signature_header` is the same construction, for tests and for agents' own test doubles."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "X-Countersign-Signature"
TOLERANCE_S = 300
MAX_HEADER_CHARS = 1024  # a real header is ~80 characters; anything far longer is not ours
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would also take "٣" or " 12 "
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str | bytes | None, body: bytes, now: float | None = None, tolerance_s: int = TOLERANCE_S
) -> bool:
    """True only for a header made with `secret` over exactly `body`, within `tolerance_s` of `now`.

    Pass the raw request body (before any JSON parsing). A delivery older (or newer) than the tolerance is
    refused, so a captured callback cannot be replayed later; the digest is compared in constant time.
    Several `v1=` entries are allowed (any one matching is enough). Never raises on a malformed header."""
    if isinstance(header, bytes):
        header = header.decode("ascii", "replace")
    if not header or len(header) > MAX_HEADER_CHARS or not secret:
        return False
    timestamps: list[str] = []
    digests: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            digests.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not digests:
        return False
    timestamp = int(timestamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = signature_header(secret, body, timestamp).partition(",v1=")[2].encode()
    matched = False
    for digest in digests:
        # Compare bytes (a non-ASCII str would make compare_digest raise) and check every entry, so
        # the time taken does not depend on which one matched.
        candidate = digest.encode() if _HEX_DIGEST.fullmatch(digest) else b"0" * len(expected)
        matched |= hmac.compare_digest(expected, candidate)
    return matched
