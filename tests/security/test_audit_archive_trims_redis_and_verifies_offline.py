"""§7 growth: the audit stream was never trimmed. `countersign audit archive` moves old entries to a file that
verifies offline, trims exactly those from Redis, and the rest still verifies from the checkpoint."""

import asyncio
import json
from datetime import UTC, datetime

from bot.audit_archive import archive
from bot.clock import SystemClock
from tests.security.audit_support import audit_cli, file_and_decide
from tests.support.servers import auth


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


async def _ids(app) -> list[str]:
    return [i for i, _ in await app.runtime.redis.xrange(app.runtime.keys.audit)]


async def test_audit_archive_moves_entries_before_the_date_to_a_verifiable_file(app, settings, tmp_path):
    await file_and_decide(app)
    first = await _ids(app)
    await file_and_decide(app, 2)
    later = (await _ids(app))[len(first) :]
    cutoff_ms = int(later[0].split("-")[0])  # entries before this millisecond are archived
    archived = [i for i in first + later if int(i.split("-")[0]) < cutoff_ms]
    out = tmp_path / "audit-2026.jsonl"

    result = await audit_cli(settings, tmp_path, "archive", "--before", _iso(cutoff_ms), "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines[:-1]] == archived
    assert lines[-1]["checkpoint"]["id"] == archived[-1]
    remaining = await _ids(app)
    assert remaining[:-1] == [i for i in first + later if i not in archived]
    assert json.loads((await app.runtime.redis.xrange(app.runtime.keys.audit))[-1][1]["body"])["type"] == (
        "audit_archived"
    )

    # The rest verifies from the checkpoint, also after new entries; the file verifies offline.
    await file_and_decide(app, 1)
    online = await audit_cli(settings, tmp_path, "verify")
    assert online.returncode == 0 and "audit chain OK" in online.stdout, online.stdout
    offline = await audit_cli(settings, tmp_path, "verify", "--file", str(out), REDIS_URL="redis://127.0.0.1:1/0")
    assert offline.returncode == 0 and f"OK: {len(archived)} entries" in offline.stdout, offline.stdout

    # A second archive continues from the first checkpoint; everything archived so far still verifies.
    second = tmp_path / "audit-2027.jsonl"
    result = await audit_cli(settings, tmp_path, "archive", "--before", "2999-01-01", "-o", str(second))
    assert result.returncode == 0, result.stderr
    assert (await audit_cli(settings, tmp_path, "verify", "--file", str(second))).returncode == 0
    assert (await audit_cli(settings, tmp_path, "verify")).returncode == 0


async def test_audit_archive_file_tampering_is_named_offline(app, settings, tmp_path):
    await file_and_decide(app)
    out = tmp_path / "archive.jsonl"
    assert (await audit_cli(settings, tmp_path, "archive", "--before", "2999-01-01", "-o", str(out))).returncode == 0
    lines = out.read_text().splitlines()
    target = json.loads(lines[1])

    altered = tmp_path / "altered.jsonl"
    altered.write_text("\n".join([lines[0], lines[1].replace("deploy", "delete"), *lines[2:]]) + "\n")
    result = await audit_cli(settings, tmp_path, "verify", "--file", str(altered))
    assert result.returncode == 1 and f"BROKEN at entry {target['id']}" in result.stdout, result.stdout

    removed = tmp_path / "removed.jsonl"
    removed.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    result = await audit_cli(settings, tmp_path, "verify", "--file", str(removed))
    assert result.returncode == 1 and f"BROKEN at entry {json.loads(lines[2])['id']}" in result.stdout

    cut_end = tmp_path / "cut.jsonl"
    cut_end.write_text("\n".join([*lines[:-2], lines[-1]]) + "\n")
    result = await audit_cli(settings, tmp_path, "verify", "--file", str(cut_end))
    assert result.returncode == 1 and "removed from the end" in result.stdout

    for bad in (tmp_path / "missing.jsonl", tmp_path / "garbage.jsonl"):
        if bad.name == "garbage.jsonl":
            bad.write_bytes(b"\xff\xfe not json\n")
        result = await audit_cli(settings, tmp_path, "verify", "--file", str(bad))
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


async def test_audit_export_verifies_offline(app, settings, tmp_path):
    await file_and_decide(app)
    since = (await _ids(app))[2].split("-")[0]
    for extra in ([], ["--since", _iso(int(since))]):
        out = tmp_path / f"export{len(extra)}.jsonl"
        assert (await audit_cli(settings, tmp_path, "export", "-o", str(out), *extra)).returncode == 0
        result = await audit_cli(settings, tmp_path, "verify", "--file", str(out))
        assert result.returncode == 0 and "audit chain OK" in result.stdout, result.stdout


async def test_audit_archive_never_trims_entries_appended_meanwhile(app, settings, tmp_path):
    await file_and_decide(app)
    runtime = app.runtime
    written: list[str] = []

    async def keep_filing() -> None:
        for _ in range(30):
            created = await app.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth())
            written.append((await created.json())["id"])

    out = tmp_path / "meanwhile.jsonl"
    filing = asyncio.create_task(keep_filing())
    await asyncio.sleep(0)  # the first requests are in flight while the archive reads and trims
    result = await archive(runtime.audit, runtime.store, await _key(app), 4102444800000, out, SystemClock())
    await filing
    in_file = {json.loads(line).get("id") for line in out.read_text().splitlines()}
    in_redis = set(await _ids(app))
    entries_for = {i for i in in_file | in_redis if i}
    history = {h for approval_id in written for h in await runtime.store.history_ids(approval_id)}
    assert history <= entries_for  # nothing written was trimmed without being in the file
    assert result.entries == len(in_file - {None})
    assert (await audit_cli(settings, tmp_path, "verify")).returncode == 0


async def test_audit_archive_refuses_to_overwrite_a_file(app, settings, tmp_path):
    await file_and_decide(app, 1)
    before = await _ids(app)
    out = tmp_path / "exists.jsonl"
    out.write_text("earlier archive\n")
    result = await audit_cli(settings, tmp_path, "archive", "--before", "2999-01-01", "-o", str(out))
    assert result.returncode == 2 and "exists" in result.stderr
    assert out.read_text() == "earlier archive\n"
    assert await _ids(app) == before


async def _key(app):
    from bot.secrets import audit_key

    return await audit_key(app.runtime.settings, app.runtime.redis, app.runtime.keys)
