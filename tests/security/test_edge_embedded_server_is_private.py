"""§8: the embedded server listened on loopback TCP with no password: any local user could connect, read
every request and rewrite the audit trail. The generated secret key was kept in that same Redis."""

import os
import shutil
import stat
import subprocess
import sys

import pytest
import redis

from bot.embedded import EmbeddedRedis
from bot.keys import Keys
from bot.secrets import KEY_FILE, signing_key
from tests.support.processes import clean_env, countersign_cmd, start_serve, stop
from tests.support.servers import AGENT_KEY, make_settings


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def embedded(tmp_path):
    servers = []

    def start(**kwargs) -> EmbeddedRedis:
        data = tmp_path / "data"
        data.mkdir(mode=0o755, exist_ok=True)
        data.chmod(0o755)  # an operator's directory that others can read: tightened, not trusted
        server = EmbeddedRedis(data, persist=False, **kwargs)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def test_edge_embedded_server_other_local_users_cannot_connect(embedded):
    server = embedded()
    assert server.url.startswith("unix://")
    assert _mode(server.data_dir) == 0o700
    assert stat.S_ISSOCK(os.stat(server.socket_path).st_mode) and _mode(server.socket_path) == 0o700
    assert redis.Redis.from_url(server.url).ping()
    with pytest.raises(redis.ResponseError, match="unknown command"):
        redis.Redis.from_url(server.url).execute_command("MONITOR")  # script arguments carry the chain key
    if os.getuid() == 0 and shutil.which("setpriv"):  # the check the kernel makes for another user
        connect = f"import socket; socket.socket(socket.AF_UNIX).connect({str(server.socket_path)!r})"
        probe = [sys.executable, "-c", connect]
        denied = subprocess.run(
            ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", *probe],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert denied.returncode != 0 and "PermissionError" in denied.stderr, denied.stderr


def test_edge_embedded_server_on_loopback_needs_its_random_password(embedded):
    server = embedded(unix_socket=False)
    assert server.url.startswith("redis://:") and server.password
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=server.port).ping()
    assert redis.Redis.from_url(server.url).ping()
    with open(f"/proc/{server.process.pid}/cmdline", "rb") as cmdline:
        assert server.password.encode() not in cmdline.read()  # every local user can read a command line
    for name in ("redis.url", "embedded.conf"):
        assert _mode(server.data_dir / name) == 0o600


async def test_edge_embedded_generated_key_is_a_private_file_not_in_redis(redis_server, tmp_path):
    data = tmp_path / "data"
    settings = make_settings(redis_server.url, countersign_secret_key=None, countersign_data_dir=data)
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)  # as the runtime's
    keys = Keys(settings.countersign_redis_prefix)
    try:
        key = await signing_key(settings, client, keys)
        assert (data / KEY_FILE).read_text().encode() == key and _mode(data / KEY_FILE) == 0o600
        assert _mode(data) == 0o700
        assert await signing_key(settings, client, keys) == key
        assert not [k async for k in client.scan_iter(match=f"{settings.countersign_redis_prefix}*")]
    finally:
        await client.aclose()


async def test_edge_embedded_key_kept_in_redis_by_an_older_version_moves_to_the_file(redis_server, tmp_path):
    data = tmp_path / "data"
    settings = make_settings(redis_server.url, countersign_secret_key=None, countersign_data_dir=data)
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)  # as the runtime's
    keys = Keys(settings.countersign_redis_prefix)
    try:
        await client.set(keys.named("secret"), "legacy-key-0123456789abcdef")
        assert await signing_key(settings, client, keys) == b"legacy-key-0123456789abcdef"
        assert (data / KEY_FILE).read_text() == "legacy-key-0123456789abcdef"
        assert await client.exists(keys.named("secret")) == 0
    finally:
        await client.aclose()


def test_edge_embedded_cli_commands_still_find_the_server(tmp_path):
    data = tmp_path / "data"
    env = clean_env(COUNTERSIGN_API_KEYS=f"billing-agent:{AGENT_KEY}", COUNTERSIGN_DATA_DIR=str(data))
    proc, _url = start_serve(env, tmp_path)
    try:
        assert _mode(data) == 0o700 and _mode(data / KEY_FILE) == 0o600
        login = subprocess.run(
            countersign_cmd("web-login", "ada@example.com"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert login.returncode == 0 and "/login/" in login.stdout, login.stderr
        verify = subprocess.run(
            countersign_cmd("audit", "verify"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        stop(proc)
