"""Durations written as `30s`, `10m`, `4h`, `2d`, bounded so that no date arithmetic overflows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

MAX_DURATION = timedelta(days=365)
_PATTERN = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 4h or 2d")
    elif isinstance(value, int):
        result = timedelta(seconds=value)
    elif isinstance(value, str) and (found := _PATTERN.match(value)):
        result = timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])
    else:
        raise ValueError(f"expected a duration such as 30s, 10m, 4h or 2d, got {value!r}")
    if result <= timedelta(0) or result > MAX_DURATION:
        raise ValueError("duration must be more than 0 and at most 365d")
    return result


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
