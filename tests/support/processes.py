"""Run the `countersign` command as a real subprocess against a test server, without blocking the loop."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from tests.support.servers import AGENT_KEY


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def cli_env(url: str, key: str = AGENT_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COUNTERSIGN_", "REDIS_"))}
    env.update({"COUNTERSIGN_URL": url, "COUNTERSIGN_API_KEY": key})
    return env


async def start_cli(url: str, *argv: str, key: str = AGENT_KEY) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *argv, env=cli_env(url, key),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finish(process: asyncio.subprocess.Process, within: float = 30) -> Finished:
    out, err = await asyncio.wait_for(process.communicate(), within)
    return Finished(process.returncode if process.returncode is not None else -1, out.decode(), err.decode())


async def run_cli(url: str, *argv: str, key: str = AGENT_KEY) -> Finished:
    return await finish(await start_cli(url, *argv, key=key))
