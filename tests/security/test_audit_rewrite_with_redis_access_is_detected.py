"""§8: someone with write access to Redis alone rewrites an audit entry and recomputes the chain.

The chain is an HMAC under a key derived from the secret key, which never reaches Redis: a rewritten entry
cannot be re-chained without it, whichever way the attacker recomputes."""

import hashlib

import pytest

from bot.store import Entry, Store
from tests.security.audit_support import audit_cli, file_and_decide


def _sha(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


@pytest.mark.parametrize("drop_scheme", [False, True], ids=["keeps-alg-field", "rewrites-as-plain-entries"])
async def test_audit_rewrite_with_redis_access_is_detected(app, settings, tmp_path, drop_scheme):
    await file_and_decide(app)
    redis, stream, tail = app.runtime.redis, app.runtime.keys.audit, app.runtime.keys.audit_tail
    entries = await redis.xrange(stream)
    target = entries[2][0]
    # The attacker rewrites the third entry's body and recomputes a plain SHA-256 chain from there on,
    # exactly as verification worked before (stream entries cannot be edited: rebuild the stream).
    await redis.delete(stream)
    prev = entries[1][1]["hash"]
    for entry_id, fields in entries:
        if entry_id >= target:
            body = fields["body"].replace("deploy", "delete") if entry_id == target else fields["body"]
            prev = _sha(f"{prev}:{_sha(body.encode())}".encode())
            fields = {**fields, "body": body, "hash": prev}
            if drop_scheme:
                fields = {k: v for k, v in fields.items() if k not in ("alg", "kid")}
        await redis.xadd(stream, fields, id=entry_id)
    await redis.set(tail, prev)

    result = await audit_cli(settings, tmp_path, "verify")
    assert result.returncode == 1, result.stdout
    assert f"BROKEN at entry {target}" in result.stdout


async def test_audit_verify_with_another_secret_key_names_the_key_mismatch(app, settings, tmp_path):
    await file_and_decide(app, 1)
    result = await audit_cli(settings, tmp_path, "verify", COUNTERSIGN_SECRET_KEY="another-secret-key-0123456789")
    assert result.returncode == 1
    assert "BROKEN at entry" in result.stdout and "another secret key" in result.stdout


async def test_audit_entries_from_before_keying_still_verify(app, settings, tmp_path):
    # Entries written before this version (no chain key) come first; keyed ones continue the same chain.
    runtime = app.runtime
    legacy = Store(runtime.redis, runtime.keys, settings.retention_seconds)  # no key: plain entries
    for n in range(2):
        await legacy.append_audit(Entry.of({"type": "legacy", "n": n}))
    await file_and_decide(app, 1)
    fields = [f for _, f in await runtime.redis.xrange(runtime.keys.audit)]
    schemes = [f.get("alg") for f in fields]
    assert schemes[:2] == [None, None] and set(schemes[2:]) == {"hmac-sha256"}
    result = await audit_cli(settings, tmp_path, "verify")
    assert result.returncode == 0, result.stdout
    assert (
        f"audit chain OK: {len(fields)} entries ({len(fields) - 2} keyed with HMAC-SHA256, 2 plain from before keying)"
    ) in result.stdout


async def test_audit_key_never_reaches_redis_storage(app, settings):
    await file_and_decide(app, 1)
    key = await app.runtime.store.chain_arg()
    key_hex = key.rsplit(":", 1)[1]
    redis = app.runtime.redis
    assert settings.countersign_secret_key
    async for name in redis.scan_iter(match=f"{settings.countersign_redis_prefix}*"):
        dumped = await redis.dump(name)
        assert key_hex.encode() not in dumped and settings.countersign_secret_key.encode() not in dumped, name
