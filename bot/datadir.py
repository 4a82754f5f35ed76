"""The data directory (embedded server, generated key): private to the user that runs Countersign."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bot.errors import ConfigError

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Create the directory `0700`, or tighten one that other users can reach; refuse one owned by another user.

    Everything in it (the server's socket, its password, the generated key) is readable only through it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = path.stat()
        if status.st_mode & 0o077:
            if status.st_uid != os.getuid():
                raise ConfigError(
                    f"COUNTERSIGN_DATA_DIR: {path} is open to other users and owned by another "
                    "user: use a directory of your own"
                )
            path.chmod(0o700)
            log.warning("COUNTERSIGN_DATA_DIR: %s was open to other users; its mode is now 0700", path)
    except OSError as exc:
        raise ConfigError(f"COUNTERSIGN_DATA_DIR: cannot create or secure {path}: {exc.strerror or exc}") from None
    return path


def read_private(path: Path) -> str | None:
    """A private file's text (None when absent); a file others can read is tightened to `0600` first."""
    try:
        status = path.stat()
        if status.st_mode & 0o077:
            path.chmod(0o600)
            log.warning("%s was readable by other users; its mode is now 0600", path)
        return path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"COUNTERSIGN_DATA_DIR: cannot read {path}: {exc.strerror or exc}") from None


def write_private(path: Path, text: str, replace: bool = True) -> str:
    """Write a `0600` file whole (temp file, fsync, then rename or link), so no reader sees half of it.

    replace=False keeps a file another process wrote first, and returns that file's text."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)
            except FileExistsError:
                pass
            finally:
                temp.unlink()
    except OSError as exc:
        raise ConfigError(f"COUNTERSIGN_DATA_DIR: cannot write {path}: {exc.strerror or exc}") from None
    return text if replace else (read_private(path) or text)
