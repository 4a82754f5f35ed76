"""Drive `countersign mcp` / `countersign mcp-proxy` as real stdio subprocesses with the official `mcp`
client, and the npm-installed reference filesystem server the proxy tests put behind the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.support.processes import cli_env

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mcp_upstream"
FILESYSTEM_SERVER = FIXTURES / "node_modules" / ".bin" / "mcp-server-filesystem"


def filesystem_server() -> Path:
    """The reference filesystem MCP server from npm (`npm ci` in tests/fixtures/mcp_upstream, which
    scripts/test runs); installed here on first use when npm is on PATH."""
    if not FILESYSTEM_SERVER.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: the MCP proxy tests need the npm filesystem server")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=FIXTURES, check=True, timeout=300)
    return FILESYSTEM_SERVER


@asynccontextmanager
async def countersign_session(
    url: str, *argv: str, key: str | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """A client session with `countersign <argv…>` (e.g. "mcp" or "mcp-proxy", "--", …)."""
    process_env = {**(cli_env(url) if key is None else cli_env(url, key)), **(env or {})}
    params = StdioServerParameters(command=sys.executable, args=["-m", "bot.cli", *argv], env=process_env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def result_json(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    answer: dict[str, Any] = json.loads(result.content[0].text)
    return answer


def result_text(result: Any) -> str:
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")
