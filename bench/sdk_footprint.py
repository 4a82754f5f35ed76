"""Footprint of the two SDKs: the install size of a fresh venv with the slim Python SDK (`pip install
./sdk/python`) against one with the whole server (`pip install .`), and the import time of each SDK
(Python `countersign_sdk`, TypeScript `@countersign/sdk` from sdk/typescript/dist) in a fresh process,
measured as the median of N runs inside the process (the interpreter's own start-up excluded).

Run: .venv/bin/python bench/sdk_footprint.py [--runs 15] [--skip-server-venv]
(needs `npm ci && npm run build` in sdk/typescript for the TypeScript row)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TS_DIST = ROOT / "sdk" / "typescript" / "dist" / "index.js"


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def venv_with(target: str, where: Path) -> tuple[int, int, int]:
    """(venv bytes, bytes added over a bare venv, packages added) after `pip install target`."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    bare, bare_count = size_of(where), len(packages(python))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", target],
        check=True,
        capture_output=True,
    )
    total = size_of(where)
    return total, total - bare, len(packages(python)) - bare_count


def packages(python: Path) -> list[str]:
    listing = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [p["name"] for p in json.loads(listing)]


def import_ms(argv: list[str], runs: int, cwd: Path) -> float:
    times = [
        float(subprocess.run(argv, check=True, capture_output=True, text=True, cwd=cwd).stdout.strip())
        for _ in range(runs)
    ]
    return statistics.median(times)


PY_IMPORT = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
NODE_IMPORT = "const t = performance.now(); await import({url}); console.log(performance.now() - t)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--skip-server-venv", action="store_true")
    options = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sdk_total, sdk_added, sdk_count = venv_with(str(ROOT / "sdk" / "python"), work / "sdk")
        print(
            f"slim SDK venv: {sdk_total / 1e6:.1f} MB in all, +{sdk_added / 1e6:.1f} MB and +{sdk_count} packages "
            "over a bare venv"
        )
        sdk_python = work / "sdk" / "bin" / "python"
        py_ms = import_ms([str(sdk_python), "-c", PY_IMPORT.format(module="countersign_sdk")], options.runs, work)
        print(f"import countersign_sdk (slim venv): median {py_ms:.1f} ms over {options.runs} fresh processes")
        if not options.skip_server_venv:
            srv_total, srv_added, srv_count = venv_with(str(ROOT), work / "server")
            print(
                f"server venv (pip install .): {srv_total / 1e6:.1f} MB in all, +{srv_added / 1e6:.1f} MB and "
                f"+{srv_count} packages; the slim SDK adds {sdk_added / srv_added:.1%} of the server's bytes"
            )
        shutil.rmtree(work / "sdk", ignore_errors=True)
    if TS_DIST.exists() and shutil.which("node"):
        node = ["node", "--input-type=module", "-e", NODE_IMPORT.format(url=json.dumps(TS_DIST.as_uri()))]
        ts_ms = import_ms(node, options.runs, ROOT)
        print(
            f"import @countersign/sdk (node {subprocess.check_output(['node', '--version'], text=True).strip()}): "
            f"median {ts_ms:.1f} ms over {options.runs} fresh processes; ratio Python/TypeScript "
            f"{py_ms / ts_ms:.1f}x"
        )
    else:
        print(
            "TypeScript SDK not built (cd sdk/typescript && npm ci && npm run build): no TypeScript row",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
