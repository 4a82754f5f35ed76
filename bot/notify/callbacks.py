"""Signed agent callbacks: `X-Countersign-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Countersign-Signature"
TOLERANCE_S = 300


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """What an agent does on receipt (see docs/escalation.md): constant-time, with a replay window."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature_header(secret, body, timestamp).partition(",v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def secret_for_agent(agent_keys: dict[str, str], agent: str) -> str | None:
    """Settings hold {secret: agent name}; the callback is signed with that agent's secret."""
    return next((secret for secret, name in agent_keys.items() if name == agent), None)
