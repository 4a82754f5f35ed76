"""Headless Debian Chromium driven by Playwright, for the dashboard's end-to-end tests."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_REASON = (
    "Debian's chromium is not installed at /usr/bin/chromium (`apt-get install chromium`; "
    "`playwright install` cannot download browsers here)"
)
