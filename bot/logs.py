"""Logging set-up: one line per record; secrets never reach a log line, and nobody can forge one."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything that can end a line or
# move the cursor in a terminal or a log viewer.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(found: re.Match[str]) -> str:
    char = found.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    r"""`a<newline>b` → `a\nb`: a value from a request (a path, a header, a field) cannot start a line."""
    return _CONTROL.sub(_escaped, text)


class OneLineFormatter(logging.Formatter):
    """Escapes control characters in the whole formatted record (message, arguments and any traceback),
    so every record is exactly one line and a line always starts with our own timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record))


def one_line_handler(stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter(FORMAT))
    return handler


def configure(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), handlers=[one_line_handler(sys.stderr)], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
