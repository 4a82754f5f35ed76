"""`countersign serve --workers N`: N server processes sharing one port (SO_REUSEPORT) under a parent that
starts the embedded Redis once, restarts a child that dies (with backoff) and stops them all on SIGTERM.
The children coordinate through Redis as separate `serve` processes always have (outbox consumer group,
expiry sweeper lock, Slack pacing), so the parent holds no state of its own."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

from bot.embedded import EmbeddedRedis, _die_with_parent
from bot.errors import ConfigError
from bot.settings import Settings

log = logging.getLogger("countersign.supervisor")

STOP_GRACE_S = 4.5  # a child stops within bot/shutdown.py's bound; after this it is killed
HEALTHY_AFTER_S = 10.0  # a child that lived this long resets its slot's backoff
MAX_BACKOFF_S = 10.0
CONFIG_EXIT = 2  # a child that cannot start for a configuration error would only fail again


def worker_count(value: str) -> int:
    """`auto` is one per core; otherwise a whole number from 1."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"--workers: {value!r} is not a whole number from 1, or auto")
    return count


@dataclass
class Slot:
    """One child position: its current process and how long to wait before restarting it."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0

    def backoff(self) -> float:
        return float(min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, self.failures - 1)))


@dataclass
class Supervisor:
    command: list[str]
    env: dict[str, str]
    count: int
    slots: list[Slot] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def spawn(self, slot: Slot) -> None:
        slot.process = subprocess.Popen(
            self.command,
            env=self.env,  # noqa: S603 - our own interpreter
            preexec_fn=_die_with_parent,
        )  # noqa: PLW1509 - no threads touch it
        slot.started = time.monotonic()
        log.info("worker %d started (pid %d)", slot.number, slot.process.pid)

    def run(self) -> int:
        self.slots = [Slot(number) for number in range(1, self.count + 1)]
        for slot in self.slots:
            self.spawn(slot)
        try:
            while not self.stopping.wait(0.1):  # the children's exits are few: a coarse look suffices
                if (code := self.tend()) is not None:
                    return code
            return 0
        finally:
            self.stop_all()

    def tend(self) -> int | None:
        """Restart children that exited; a configuration error in a young child ends the whole server."""
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is not None and (code := process.poll()) is not None:
                lived = now - slot.started
                if code == CONFIG_EXIT and lived < HEALTHY_AFTER_S:
                    log.error("worker %d exited with a configuration error; stopping", slot.number)
                    return CONFIG_EXIT
                slot.failures = 1 if lived >= HEALTHY_AFTER_S else slot.failures + 1
                slot.restart_at = now + slot.backoff()
                slot.process = None
                log.warning(
                    "worker %d (pid %d) exited with %s; restarting in %.1f s",
                    slot.number,
                    process.pid,
                    code,
                    slot.restart_at - now,
                )
            if slot.process is None and now >= slot.restart_at:
                self.spawn(slot)
        return None

    def stop_all(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()


def serve_workers(settings: Settings, host: str, port: int, count: int) -> int:
    """Run `count` `countersign serve` children on host:port, each with SO_REUSEPORT, until SIGTERM/SIGINT."""
    embedded = None
    env = dict(os.environ)
    if settings.redis_url is None:
        # Started once here: every child uses it, and `countersign worker` finds it under the data dir.
        embedded = EmbeddedRedis(settings.countersign_data_dir)
        env["REDIS_URL"] = embedded.start()  # the environment is readable by this user only, unlike argv
        log.info(
            "no REDIS_URL: started the embedded server for %d workers (data in %s)",
            count,
            settings.countersign_data_dir,
        )
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", host, "--port", str(port), "--reuse-port"]
    supervisor = Supervisor(command, env, count)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        supervisor.stopping.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    log.info("Countersign listening on http://%s:%s with %d workers", host, port, count)
    try:
        return supervisor.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if embedded:
            embedded.stop()
