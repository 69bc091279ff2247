"""Atomic file writes: a reader (or a process killed mid-write) never sees half a file.

Every writer here writes a temporary file in the destination's own folder (same filesystem),
flushes and ``fsync``-s it, then ``os.replace``-s it onto the destination, which is atomic on
POSIX and Windows. On any error (also Ctrl-C) the temporary file is removed and the old
destination, if any, is left as it was. The destination's folder is created when missing.

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`;
- :func:`atomic_torch_save` (a checkpoint: ``torch.save`` into the temporary file);
- :func:`atomic_open`, the context manager they are built on, for any other writer
  (``np.savez``, ``df.to_csv``, ...) that accepts an open file.

The temporary file is ``.<name>.<random>.tmp`` beside the destination. A process killed
(SIGKILL) mid-write cannot remove it: :func:`remove_stale_temps` does, for a folder whose
writer holds its lock (no other writer can be mid-write there).

A full disk (``ENOSPC``, or a quota: ``EDQUOT``) is raised as :class:`DiskFull`, one line naming
the file, saying the disk is full and what was kept (the previous version, untouched). It is
found also where the writer hides the ``OSError`` (``torch.save``'s ``unexpected pos ...``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DiskFull",
    "atomic_open",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "disk_full_cause",
    "remove_stale_temps",
]

_FULL = (errno.ENOSPC, errno.EDQUOT)


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask (``mkstemp`` gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _new_file_mode()


class DiskFull(OSError):
    """A write failed because the disk (or the user's quota) is full; the message is one line
    naming the file and what was kept (``str()`` is that line, without ``[Errno 28]``)."""

    def __str__(self) -> str:
        return str(self.strerror)


def disk_full_cause(exc: BaseException | None) -> OSError | None:
    """The ``ENOSPC`` / ``EDQUOT`` error in ``exc``'s chain (itself, its cause or context), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _disk_full(path: Path, existed: bool, cause: OSError) -> DiskFull:
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    kept = f"the previous {path.name} is kept unchanged" if existed else f"no {path.name} was written"
    what = "quota exceeded" if cause.errno == errno.EDQUOT else "no space left on device"
    return DiskFull(cause.errno, f"{path}: the disk is full ({what}; {free} in {path.parent}): {kept}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the ``with`` block ends without error.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"`` (bytes). A full disk raises
    :class:`DiskFull` (the temporary file removed, ``path`` as it was).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        full = disk_full_cause(exc)
        if full is not None:
            raise _disk_full(path, existed, full) from None
        raise
    try:
        # the destination keeps its mode; a new file gets the one open() would give it
        os.fchmod(fd, path.stat().st_mode & 0o7777 if existed else _MODE)
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        full = disk_full_cause(exc)
        if full is not None and not isinstance(exc, DiskFull):
            raise _disk_full(path, existed, full) from None
        raise


def remove_stale_temps(folder: str | os.PathLike, names: Iterable[str] | None = None) -> list[Path]:
    """Remove the temporary files :func:`atomic_open` left in ``folder`` when its process was
    killed mid-write (``.<name>.<random>.tmp``; only those of ``names`` where given). Call it only
    where no other process may be writing in ``folder`` (its writer holds the folder's lock).
    Returns the files removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    wanted = None if names is None else set(names)
    gone = []
    for p in folder.glob(".*.tmp"):
        base = p.name[1:].rsplit(".", 2)[0]  # .<name>.<random>.tmp -> <name>
        if p.is_file() and (wanted is None or base in wanted):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                gone.append(p)
    return gone


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, **dump_kw: Any) -> Path:
    """``json.dump(obj, **dump_kw)`` to ``path`` atomically (nothing is written if ``obj`` does
    not serialise); return the path."""
    return atomic_write_text(path, json.dumps(obj, **dump_kw))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` atomically (a checkpoint is never half written); return the path."""
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)
    return Path(path)
