"""A real `countersign serve` stops cleanly: SIGTERM answers held long-polls with the request as it stands,
ends live streams and exits within 5 s; `serve --workers 2` restarts a killed child and stops them all."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import aiohttp

from bot.embedded import free_port
from tests.support.processes import clean_env, countersign_cmd, start_serve, stop, wait_http
from tests.support.servers import AGENT_KEY, APPROVER_KEY, SECRET_KEY, auth

KEYS = {
    "COUNTERSIGN_API_KEYS": f"billing-agent:{AGENT_KEY}",
    "COUNTERSIGN_APPROVER_KEYS": f"ada:{APPROVER_KEY}",
    "COUNTERSIGN_SECRET_KEY": SECRET_KEY,
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _env(settings) -> dict[str, str]:
    return clean_env(
        **KEYS, REDIS_URL=settings.redis_url or "", COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix
    )


async def _exit_time(proc: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(proc.wait, 10)
    return time.monotonic() - started


async def _held_polls(http: aiohttp.ClientSession, url: str, count: int) -> tuple[list[str], list[asyncio.Task]]:
    ids, polls = [], []
    for number in range(count):
        async with http.post(f"{url}/v1/approvals", json={"action": f"deploy-{number}"}, headers=auth()) as resp:
            ids.append((await resp.json())["id"])
    for approval_id in ids:
        polls.append(asyncio.create_task(http.get(f"{url}/v1/approvals/{approval_id}?wait=60", headers=auth())))
    await asyncio.sleep(0.5)  # the polls reach the server and park
    assert not any(poll.done() for poll in polls)
    return ids, polls


async def test_sigterm_answers_held_long_polls_and_exits_within_5s(settings, tmp_path):
    proc, url = start_serve(_env(settings), tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            ids, polls = await _held_polls(http, url, 5)
            took = await _exit_time(proc)
            assert proc.returncode is not None and took < 5, f"serve took {took:.1f} s to stop"
            for approval_id, poll in zip(ids, polls, strict=True):
                resp = await asyncio.wait_for(poll, 1)
                assert resp.status == 200
                body = await resp.json()
                assert (body["id"], body["status"]) == (approval_id, "pending")
    finally:
        stop(proc)


async def _sign_in(http: aiohttp.ClientSession, url: str, env: dict[str, str], tmp_path) -> None:
    link = (
        await asyncio.to_thread(
            subprocess.run,
            countersign_cmd("web-login", "ada@example.com", "--admin"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
    ).stdout.strip()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    async with http.get(url + path) as page:
        csrf = _CSRF.search(await page.text())
        assert csrf, "no CSRF field on the sign-in page"
    async with http.post(url + path, data={"csrf": csrf.group(1)}, allow_redirects=False) as done:
        assert done.status == 303


async def test_sigterm_ends_live_streams_and_exits_within_5s(settings, tmp_path):
    env = _env(settings)
    proc, url = start_serve(env, tmp_path)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await _sign_in(http, url, env, tmp_path)
            stream = await http.get(f"{url}/events")
            assert stream.status == 200
            assert (await stream.content.readline()).startswith(b"retry:")
            _ids, polls = await _held_polls(http, url, 2)
            took = await _exit_time(proc)
            assert proc.returncode is not None and took < 5, f"serve took {took:.1f} s to stop"
            rest = await asyncio.wait_for(stream.content.read(), 1)  # the stream ended: read reaches EOF
            assert b"retry" not in rest
            for poll in polls:
                assert (await asyncio.wait_for(poll, 1)).status == 200
    finally:
        stop(proc)


async def test_sigterm_during_a_request_lets_it_finish(settings, tmp_path):
    # Requests already running complete; only waits are cut short.
    proc, url = start_serve(_env(settings), tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            files = [
                asyncio.create_task(http.post(f"{url}/v1/approvals", json={"action": f"a{n}"}, headers=auth()))
                for n in range(20)
            ]
            await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*files, return_exceptions=True)
            answered = [r for r in results if isinstance(r, aiohttp.ClientResponse)]
            # Every request the server took answered properly; ones it never accepted failed to connect.
            assert all(r.status in (200, 201) for r in answered)
            assert all(isinstance(r, aiohttp.ClientResponse | aiohttp.ClientConnectionError) for r in results)
            proc.wait(5)
    finally:
        stop(proc)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _all_gone(pids: list[int], timeout: float = 2) -> bool:
    deadline = time.monotonic() + timeout
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_running(p) for p in pids)


def _wait_children(pid: int, count: int, exclude: set[int] = frozenset(), timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [c for c in _children(pid) if c not in exclude]
        if len(children) >= count:
            return children
        time.sleep(0.05)
    raise TimeoutError(f"{pid} has children {_children(pid)}")


def _start_workers(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, list[int]]:
    # No REDIS_URL: the parent starts the embedded server once and both children share it.
    env = clean_env(**KEYS, COUNTERSIGN_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    proc = subprocess.Popen(
        countersign_cmd("serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)), env=env, cwd=tmp_path
    )
    url = f"http://127.0.0.1:{port}"
    children = _wait_children(proc.pid, 3)  # the embedded server and 2 workers
    wait_http(url + "/healthz", proc=proc)
    return proc, url, [c for c in children if b"bot.cli" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _kill_and_wait_for_replacement(parent: int, victim: int, url: str) -> None:
    os.kill(victim, signal.SIGKILL)
    replacement = _wait_children(parent, 3, exclude={victim})
    assert victim not in replacement
    wait_http(url + "/healthz")


async def test_workers_2_restarts_a_killed_child_and_stops_all_on_sigterm(tmp_path):
    proc, url, servers = await asyncio.to_thread(_start_workers, tmp_path)
    try:
        assert len(servers) == 2
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/approvals", json={"action": "deploy"}, headers=auth()) as resp:
                assert resp.status == 201
                approval_id = (await resp.json())["id"]
            await asyncio.to_thread(_kill_and_wait_for_replacement, proc.pid, servers[0], url)
            # The state lives in the shared Redis: whichever child answers knows the request filed before.
            for _ in range(10):
                async with http.get(f"{url}/v1/approvals/{approval_id}", headers=auth()) as resp:
                    assert resp.status == 200
            _ids, polls = await _held_polls(http, url, 4)
            everyone = _children(proc.pid)
            took = await _exit_time(proc)
            assert proc.returncode == 0 and took < 5, f"serve --workers 2 took {took:.1f} s to stop"
            for poll in polls:
                assert (await asyncio.wait_for(poll, 1)).status == 200
        assert await asyncio.to_thread(_all_gone, everyone), "a child outlived serve --workers"
    finally:
        stop(proc)
