"""Make committed run folders' ``config.yaml`` say which interest graph the model read (issue 32).

Before issue 32 a baseline's (or LightGCN's) ``config.yaml`` kept the command line's
``interests: paper`` although the model reads no interest graph, while its ``metrics.json``
said ``none (<model> reads no interest graph)``. :func:`cikgwb.runs.resolve_config` now writes
``interests: none`` for such models; this script brings the committed folders in line:

    python scripts/migrate_config_interests.py [--reports-dir reports] [--check]

For every run folder under ``<reports>`` whose ``metrics.json`` says the model read no interest
graph (its ``interests`` starts with ``none``) and whose ``config.yaml`` says otherwise, the one
top-level ``interests:`` line becomes ``interests: none`` with a comment naming the old value and
this script; nothing else in the file changes. ``--check`` changes nothing and exits 1 when a
folder still disagrees (what a test runs). Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_LINE = re.compile(r"^interests:[^\n]*$", re.M)


def disagreeing(reports: Path) -> list[tuple[Path, str]]:
    """``(config.yaml, its interests value)`` of each run folder whose metrics.json says the model
    read no interest graph while its config.yaml names one."""
    out = []
    for m in sorted(reports.rglob("metrics.json")):
        cfg_path = m.parent / "config.yaml"
        if not cfg_path.is_file():
            continue
        read = str(json.loads(m.read_text()).get("interests"))
        said = (yaml.safe_load(cfg_path.read_text()) or {}).get("interests")
        if read.startswith("none") and said != "none":
            out.append((cfg_path, str(said)))
    return out


def migrate(cfg_path: Path, old: str) -> None:
    text = cfg_path.read_text()
    if len(_LINE.findall(text)) != 1:
        raise ValueError(f"{cfg_path}: expected one top-level 'interests:' line, found {len(_LINE.findall(text))}")
    note = (
        f"interests: none  # was {old!r}; the model read no interest graph (metrics.json), "
        "scripts/migrate_config_interests.py"
    )
    cfg_path.write_text(_LINE.sub(lambda _: note, text))
    if (yaml.safe_load(cfg_path.read_text()) or {}).get("interests") != "none":
        raise ValueError(f"{cfg_path}: the rewritten file does not read interests: none")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports-dir", type=Path, default=ROOT / "reports")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 where a folder disagrees")
    args = ap.parse_args(argv)
    todo = disagreeing(args.reports_dir)
    for cfg_path, old in todo:
        if args.check:
            print(f"{cfg_path}: interests: {old}, but metrics.json says the model read none")
        else:
            migrate(cfg_path, old)
    verb = "disagree" if args.check else "rewritten"
    print(f"{len(todo)} config.yaml file(s) {verb} under {args.reports_dir}")
    return 1 if args.check and todo else 0


if __name__ == "__main__":
    sys.exit(main())
