"""A real `countersign serve` stops cleanly: SIGTERM answers held long-polls with the request as it stands,
ends live streams and exits within 5 s; `serve --workers 2` restarts a killed child and stops them all."""

import asyncio
import re
import signal
import subprocess
import time

import aiohttp

from tests.support.processes import clean_env, countersign_cmd, start_serve, stop
from tests.support.servers import AGENT_KEY, APPROVER_KEY, SECRET_KEY, auth

KEYS = {"COUNTERSIGN_API_KEYS": f"billing-agent:{AGENT_KEY}",
        "COUNTERSIGN_APPROVER_KEYS": f"ada:{APPROVER_KEY}", "COUNTERSIGN_SECRET_KEY": SECRET_KEY}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _env(settings) -> dict[str, str]:
    return clean_env(**KEYS, REDIS_URL=settings.redis_url or "",
                     COUNTERSIGN_REDIS_PREFIX=settings.countersign_redis_prefix)


async def _exit_time(proc: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    deadline = started + 10
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
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
    link = subprocess.run(countersign_cmd("web-login", "ada@example.com", "--admin"), env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout.strip()
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
            files = [asyncio.create_task(http.post(f"{url}/v1/approvals", json={"action": f"a{n}"},
                                                   headers=auth())) for n in range(20)]
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
