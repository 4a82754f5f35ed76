"""Start `countersign` as a real subprocess and wait until it answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


def countersign_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNTERSIGN_", "SLACK_", "TWILIO_", "SMTP_"))}
    env.pop("REDIS_URL", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(overrides)
    return env


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback test URL
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def start_serve(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**env, "PORT": str(port), "HOST": "127.0.0.1"}
    proc = subprocess.Popen(countersign_cmd("serve"), env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
    except Exception:
        proc.kill()
        out = proc.communicate()[0].decode(errors="replace")
        raise RuntimeError(f"countersign serve did not start:\n{out}") from None
    return proc, url


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
