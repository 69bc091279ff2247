"""One process at a time: an advisory lock on a file, held while a writer works.

:func:`hold_lock` takes an exclusive, non-blocking ``fcntl.flock`` on a lock file and writes the
holder (pid, host, start time) into it; a second taker gets :class:`LockBusy` at once, naming
what is locked and who holds it. The lock goes with the process, even after SIGKILL (the kernel
drops it when the file closes); the lock file itself stays (an empty, unlocked file is no lock).

The path locked is the RESOLVED one (:func:`lock_path`): the same file reached through a symlink
or another relative path takes the same lock.

Users: the answer store (:mod:`cikgwb.knowledge.store`, ``<store>.lock``) and the trainer (a run
folder, :mod:`cikgwb.train`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["LockBusy", "hold_lock", "lock_path", "locked", "release"]


class LockBusy(RuntimeError):
    """Another process holds the lock."""


def lock_path(path: str | os.PathLike, suffix: str = ".lock") -> Path:
    """``<resolved path><suffix>``: one lock file per real file or folder, however it is reached."""
    real = Path(path).expanduser().resolve()
    return real.with_name(real.name + suffix)


def hold_lock(lock_file: str | os.PathLike, what: str, hint: str = "") -> IO[Any]:
    """Lock ``lock_file`` (created with its folder where missing) for this process and return the
    open file (close it, or :func:`release`, to let go). :class:`LockBusy` when another process
    holds it: ``"<what> is in use by another run (<holder>; lock <file>)[: <hint>]"``."""
    import fcntl

    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fh = open(lock_file, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise LockBusy(f"{what} is in use by another run ({holder}; lock {lock_file})" + (f": {hint}" if hint else ""))
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {platform.node()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
    fh.flush()
    return fh


def release(fh: IO[Any] | None) -> None:
    """Let go of a lock taken by :func:`hold_lock` (closing the file drops the flock)."""
    if fh is not None:
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
        fh.close()


@contextlib.contextmanager
def locked(lock_file: str | os.PathLike, what: str, hint: str = "") -> Iterator[IO[Any]]:
    """:func:`hold_lock` for the ``with`` block."""
    fh = hold_lock(lock_file, what, hint)
    try:
        yield fh
    finally:
        release(fh)
