"""Run the docs' runnable examples against a real `countersign serve`: every fenced block marked
`<!-- runnable -->` (the line right before the fence) in README.md and docs/*.md.

Conventions (the README's Development section points here):
- `<!-- runnable: serve -->` marks the one-line `countersign serve` command the examples run against: the test
  runs it as written, in a fresh directory (so a fresh embedded data dir), on a free port.
- ```console blocks: each `$ ` line (with its `\\` or open-quote continuation lines) is run by bash; the lines
  after it up to the next `$ ` are the output shown. A shown JSON object's plain values (strings, numbers,
  booleans, lists without `…`) must match the real output. `localhost:3000` is the server; `apr_01m8…`
  stands for the id the block's first request returned. A command commented `# blocks…` runs in the
  background (it waits for a person) and must return a decided request once the rest of the block has run.
- ```sh / ```bash blocks run whole; ```python blocks run with COUNTERSIGN_URL / COUNTERSIGN_API_KEY set
  while a person (an approver key, in a thread) approves whatever is pending.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.embedded import free_port
from tests.support.processes import ROOT, clean_env, stop, wait_http

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(r"<!-- runnable(?:: (?P<role>\w+))? -->\n```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
PLACEHOLDER_ID = "apr_01m8…"
SHOWN_VALUE = re.compile(r'"(\w+)": ("[^"…]*"|\[[^\]…]*\]|true|false|null|-?\d+(?:\.\d+)?)')


def marked_blocks(role: str | None = None) -> list[tuple[str, str, str]]:
    found = []
    for path in DOCS:
        for number, match in enumerate(MARKED.finditer(path.read_text())):
            if match["role"] == role:
                found.append((f"{path.name}#{number}", match["lang"], match["body"]))
    return found


def _serve_command() -> str:
    (serve,) = marked_blocks("serve")
    return serve[2].strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The README's own `countersign serve` line, run as written in a fresh directory on a free port."""
    command = _serve_command()
    keys = dict(word.split("=", 1) for word in shlex.split(command) if "=" in word)
    port = free_port()
    env = clean_env(PORT=str(port), HOST="127.0.0.1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.Popen(  # noqa: S603 - the README's own command
        ["bash", "-c", command], env=env, cwd=tmp_path_factory.mktemp("serve"), start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        yield url, keys
    finally:
        stop(proc)


def _commands(body: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) for each `$ ` line of a console block."""
    commands: list[tuple[str, list[str]]] = []
    lines = iter(body.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") or command.count("'") % 2:
                command += "\n" + next(lines)
            commands.append((command, []))
        elif commands and line.strip():
            commands[-1][1].append(line)
    return commands


def _check_shown(shown: list[str], output: str, where: str) -> None:
    text = "\n".join(shown)
    if not text.startswith("{"):
        return
    actual = json.loads(output)
    for key, value in SHOWN_VALUE.findall(text):
        assert actual.get(key) == json.loads(value), f"{where}: the docs show {key}: {value}, got {actual.get(key)}"


def _run_console(where: str, body: str, url: str) -> None:
    approval_id: str | None = None
    background: list[subprocess.Popen[str]] = []
    for command, shown in _commands(body):
        command = command.replace("localhost:3000", url.removeprefix("http://"))
        if approval_id:
            command = command.replace(PLACEHOLDER_ID, approval_id)
        if "# blocks" in command:
            background.append(subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, text=True))  # noqa: S603
            time.sleep(0.3)  # the long-poll is in place before the decision below (it would return at once anyway)
            continue
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)  # noqa: S603
        assert done.returncode == 0, f"{where}: {command}\n{done.stderr}"
        _check_shown(shown, done.stdout, where)
        if approval_id is None and done.stdout.startswith("{"):
            approval_id = json.loads(done.stdout).get("id")
    for waiting in background:
        output, _ = waiting.communicate(timeout=30)
        assert waiting.returncode == 0
        assert json.loads(output)["status"] != "pending", f"{where}: the waiting call did not return a decision"


def _approve_everything(url: str, approver_key: str, stop_event: threading.Event) -> None:
    """A person at the dashboard: approves each pending request as it appears."""
    headers = {"Authorization": f"Bearer {approver_key}", "Content-Type": "application/json"}
    while not stop_event.is_set():
        listing = urllib.request.Request(f"{url}/v1/approvals?status=pending", headers=headers)
        with urllib.request.urlopen(listing) as resp:  # noqa: S310 - loopback
            pending = json.loads(resp.read())["items"]
        for approval in pending:
            decide = urllib.request.Request(
                f"{url}/v1/approvals/{approval['id']}/decision",
                data=json.dumps({"outcome": "approve", "comment": "docs example"}).encode(),
                headers=headers,
            )
            urllib.request.urlopen(decide).close()  # noqa: S310 - loopback
        stop_event.wait(0.05)


def _run_python(where: str, body: str, url: str, keys: dict[str, str]) -> None:
    agent_key = keys["COUNTERSIGN_API_KEYS"].split(",")[0].split(":", 1)[1]
    approver_key = keys["COUNTERSIGN_APPROVER_KEYS"].split(",")[0].split(":", 1)[1]
    env = clean_env(COUNTERSIGN_URL=url, COUNTERSIGN_API_KEY=agent_key)
    stop_event = threading.Event()
    person = threading.Thread(target=_approve_everything, args=(url, approver_key, stop_event), daemon=True)
    person.start()
    try:
        done = subprocess.run([sys.executable, "-c", body], env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    finally:
        stop_event.set()
        person.join(5)
    assert done.returncode == 0, f"{where}:\n{done.stderr}"


RUNNABLE = marked_blocks()


def test_the_readme_quick_start_and_sdk_example_are_marked_runnable() -> None:
    readme = [(where, lang) for where, lang, _ in RUNNABLE if where.startswith("README.md")]
    assert {lang for _, lang in readme} >= {"console", "python"}
    assert "countersign serve" in _serve_command()


@pytest.mark.parametrize(("where", "lang", "body"), RUNNABLE, ids=[where for where, _, _ in RUNNABLE])
def test_runnable_doc_block_runs(server: tuple[str, dict[str, str]], where: str, lang: str, body: str) -> None:
    url, keys = server
    if lang == "console":
        _run_console(where, body, url)
    elif lang in ("sh", "bash"):
        env = clean_env(COUNTERSIGN_URL=url, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        done = subprocess.run(["bash", "-c", body], env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
        assert done.returncode == 0, f"{where}:\n{done.stderr}"
    elif lang == "python":
        _run_python(where, body, url, keys)
    else:
        pytest.fail(f"{where}: a runnable block must be console, sh, bash or python, not {lang}")
