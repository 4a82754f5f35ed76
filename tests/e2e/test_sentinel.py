"""REDIS_URL=redis+sentinel://…: a real primary, replica and Sentinel (valkey-server); the primary is killed
while long-polls are held, and no acknowledged decision is lost; the long-polls recover after the failover."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis

from bot.embedded import _binary, free_port
from bot.errors import ConfigError
from bot.redis_url import SentinelUrl, sync_client
from tests.support.processes import clean_env, start_serve, stop
from tests.support.servers import AGENT_KEY, APPROVER_KEY, SECRET_KEY, auth

SERVICE = "countersign"


@dataclass
class Cluster:
    primary: subprocess.Popen[bytes]
    replica: subprocess.Popen[bytes]
    sentinel: subprocess.Popen[bytes]
    ports: dict[str, int]
    directory: Path

    @property
    def url(self) -> str:
        # Each state change is acknowledged only once the replica has it (WAIT after every script).
        return (
            f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{SERVICE}/0?confirm_replicas=1&confirm_timeout_ms=300"
        )

    def primary_port(self) -> int:
        with redis.Redis(port=self.ports["sentinel"], socket_timeout=1) as client:
            return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])


def _node(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            _binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _until(check, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(what)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    directory = Path(tempfile.mkdtemp(prefix="cs-sentinel-"))
    ports = {"primary": free_port(), "replica": free_port(), "sentinel": free_port()}
    primary = _node(directory, ports["primary"])
    replica = _node(directory, ports["replica"], "--replicaof", "127.0.0.1", str(ports["primary"]))
    conf = directory / "sentinel.conf"
    # Short failover timings: the primary is declared down after 0.5 s.
    conf.write_text(
        f"port {ports['sentinel']}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {ports['primary']} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} 500\n"
        f"sentinel failover-timeout {SERVICE} 2000\n"
    )
    sentinel = subprocess.Popen(
        [_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    running = Cluster(primary, replica, sentinel, ports, directory)
    try:
        with redis.Redis(port=ports["replica"]) as replica_client:
            _until(lambda: replica_client.info("replication")["master_link_status"] == "up", what="replication")
        with redis.Redis(port=ports["sentinel"]) as sentinel_client:
            _until(lambda: len(sentinel_client.sentinel_slaves(SERVICE)) == 1, what="sentinel sees the replica")
        yield running
    finally:
        for process in (sentinel, replica, running.primary):
            process.kill()
            process.wait()


async def _decide(http: aiohttp.ClientSession, url: str, approval_id: str, attempts: int = 150) -> dict:
    """A decision, retried while the failover is under way (a 5xx or a dropped connection is not an ack; a
    409 says an earlier, unacknowledged attempt took effect after all)."""
    for _ in range(attempts):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.post(
                f"{url}/v1/approvals/{approval_id}/decision", json={"outcome": "approve"}, headers=auth(APPROVER_KEY)
            ) as resp:
                if resp.status == 200:
                    return await resp.json()
                if resp.status == 409:
                    return (await resp.json())["approval"]
        await asyncio.sleep(0.1)
    raise AssertionError("no decision was acknowledged after the failover")


async def test_primary_killed_no_acknowledged_decision_lost_and_long_polls_recover(cluster, tmp_path):
    env = clean_env(
        REDIS_URL=cluster.url,
        COUNTERSIGN_API_KEYS=f"billing-agent:{AGENT_KEY}",
        COUNTERSIGN_APPROVER_KEYS=f"ada:{APPROVER_KEY}",
        COUNTERSIGN_SECRET_KEY=SECRET_KEY,
        COUNTERSIGN_DATA_DIR=str(tmp_path / "data"),
    )
    proc, url = await asyncio.to_thread(start_serve, env, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            ids = []
            for number in range(8):
                async with http.post(
                    f"{url}/v1/approvals", json={"action": f"deploy-{number}"}, headers=auth()
                ) as resp:
                    assert resp.status == 201
                    ids.append((await resp.json())["id"])
            decided, waiting = ids[:4], ids[4:]
            for approval_id in decided:
                assert (await _decide(http, url, approval_id, attempts=1))["status"] == "approved"
            polls = [asyncio.create_task(http.get(f"{url}/v1/approvals/{i}?wait=60", headers=auth())) for i in waiting]
            await asyncio.sleep(0.3)
            assert not any(poll.done() for poll in polls)
            # Killed at once: no waiting for replication beyond what acknowledging the decisions waited for.
            cluster.primary.kill()
            cluster.primary.wait()
            await asyncio.to_thread(_until, lambda: cluster.primary_port() == cluster.ports["replica"], 20, "failover")
            assert not any(poll.done() for poll in polls), "a held long-poll failed during the failover"
            # The old primary comes back as the new primary's replica, so changes can again be confirmed by a
            # replica (until then they fail unacknowledged, and _decide retries them).
            cluster.primary = _node(
                cluster.directory, cluster.ports["primary"], "--replicaof", "127.0.0.1", str(cluster.ports["replica"])
            )
            # Decisions after the failover wake the long-polls held since before it.
            for approval_id in waiting:
                await _decide(http, url, approval_id)
            for poll in polls:
                resp = await asyncio.wait_for(poll, 10)
                assert resp.status == 200 and (await resp.json())["status"] == "approved"
            for approval_id in decided:
                async with http.get(f"{url}/v1/approvals/{approval_id}", headers=auth()) as resp:
                    assert (await resp.json())["status"] == "approved"
    finally:
        await asyncio.to_thread(stop, proc)


def test_rq_client_follows_the_primary_through_sentinel(cluster):
    client = sync_client(cluster.url)
    try:
        client.set("probe", "1")
        with redis.Redis(port=cluster.ports["primary"]) as primary:
            assert primary.get("probe") == b"1"
    finally:
        client.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel:///svc",
        "redis+sentinel://h:1",
        "redis+sentinel://h:x/svc",
        "redis+sentinel://h:1/svc/db/extra",
        "redis+sentinel://h:1/svc?confirm_replicas=x",
    ],
)
def test_malformed_sentinel_urls_are_refused(url):
    with pytest.raises(ConfigError):
        SentinelUrl.parse(url)


def test_sentinel_url_with_password_several_hosts_and_db():
    parsed = SentinelUrl.parse(
        "redis+sentinel://:s%40cret@a:26379,b:26380/mymaster/3?sentinel_password=x&confirm_replicas=2"
    )
    assert parsed == SentinelUrl([("a", 26379), ("b", 26380)], "mymaster", 3, None, "s@cret", "x", 2)
