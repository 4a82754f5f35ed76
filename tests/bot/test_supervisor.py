"""bot/supervisor.py: the --workers value and the restart backoff (the processes: tests/e2e/test_shutdown.py)."""

from __future__ import annotations

import os
import subprocess

import pytest

from bot.errors import ConfigError
from bot.supervisor import MAX_BACKOFF_S, Slot, worker_count
from tests.support.processes import clean_env, countersign_cmd


def test_worker_count_accepts_numbers_and_auto():
    assert worker_count("1") == 1 and worker_count("3") == 3
    assert worker_count("auto") == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "-2", "two", "", "1.5"])
def test_worker_count_refuses_anything_else(value):
    with pytest.raises(ConfigError):
        worker_count(value)


def test_backoff_doubles_and_is_capped():
    slot = Slot(1)
    delays = []
    for failures in range(1, 10):
        slot.failures = failures
        delays.append(slot.backoff())
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and max(delays) == MAX_BACKOFF_S


def test_serve_with_zero_workers_exits_2_naming_the_option(tmp_path):
    done = subprocess.run(
        countersign_cmd("serve", "--workers", "0"),
        env=clean_env(COUNTERSIGN_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--workers" in done.stderr
