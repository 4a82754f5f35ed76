"""Importing the SDK must not pull in the server, Slack or RQ (checked in a fresh interpreter)."""

import subprocess
import sys


def test_sdk_import_is_light():
    code = (
        "import sys, countersign_sdk\n"
        "from countersign_sdk import Countersign\n"
        "Countersign(url='http://127.0.0.1:1', api_key='k' * 20).require_approval()(lambda x: x)\n"
        "heavy = [m for m in ('slack_bolt', 'slack_sdk', 'rq', 'aiohttp.web', 'aiohttp', 'redis', 'bot')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
