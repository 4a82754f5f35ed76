"""Start `countersign` as a real subprocess and wait until it answers; or run a client command of it
without blocking the event loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.embedded import free_port
from tests.support.servers import AGENT_KEY

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
    proc = subprocess.Popen(
        countersign_cmd("serve"), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
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


# -- client commands (request, approve, pending, mcp) run from async tests -------------------------
@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def cli_env(url: str, key: str = AGENT_KEY) -> dict[str, str]:
    return clean_env(COUNTERSIGN_URL=url, COUNTERSIGN_API_KEY=key)


async def start_cli(url: str, *argv: str, key: str = AGENT_KEY) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *countersign_cmd(*argv), env=cli_env(url, key), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish(process: asyncio.subprocess.Process, within: float = 30) -> Finished:
    out, err = await asyncio.wait_for(process.communicate(), within)
    return Finished(process.returncode if process.returncode is not None else -1, out.decode(), err.decode())


async def run_cli(url: str, *argv: str, key: str = AGENT_KEY) -> Finished:
    return await finish(await start_cli(url, *argv, key=key))
