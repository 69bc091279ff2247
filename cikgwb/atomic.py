"""Atomic file writes: a reader (or a process killed mid-write) never sees half a file.

Every writer here writes a temporary file in the destination's own folder (same filesystem),
flushes and ``fsync``-s it, then ``os.replace``-s it onto the destination, which is atomic on
POSIX and Windows. On any error (also Ctrl-C) the temporary file is removed and the old
destination, if any, is left as it was. The destination's folder is created when missing.

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`;
- :func:`atomic_torch_save` (a checkpoint: ``torch.save`` into the temporary file);
- :func:`atomic_open`, the context manager they are built on, for any other writer
  (``np.savez``, ``df.to_csv``, ...) that accepts an open file.

The temporary file is ``.<name>.<random>.tmp`` beside the destination.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_torch_save", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """An open temporary file that replaces ``path`` when the ``with`` block ends without error.

    ``mode`` is ``"w"`` (text, ``encoding``) or ``"wb"`` (bytes).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
