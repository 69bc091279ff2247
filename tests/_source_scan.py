"""Which source lines match a pattern: for tests that keep one definition of a setting in one
module (``cikgwb/paths.py``)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lines_matching(
    pattern: str, folders: tuple[str, ...] = ("cikgwb", "notebooks"), allowed: str = "cikgwb/paths.py"
) -> list[str]:
    """``path:line: text`` of every line of the ``*.py`` files under ``folders`` (``cikgwb``
    recursively, the others at their top level) that matches ``pattern``, except in ``allowed``."""
    reads = re.compile(pattern)
    files = [p for f in folders for p in ((REPO / f).rglob("*.py") if f == "cikgwb" else (REPO / f).glob("*.py"))]
    out = []
    for p in files:
        rel = p.relative_to(REPO).as_posix()
        if rel == allowed:
            continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if reads.search(line):
                out.append(f"{rel}:{i}: {line.strip()}")
    return out
