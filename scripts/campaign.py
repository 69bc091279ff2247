#!/usr/bin/env python3
"""Run a queue of training runs: one after another per slot, several slots at a time, inside a
wall-time budget, skipping what is finished and resuming what was cut.

The runs behind the paper's tables (Table 3, seeds for Table 1, ML-1M) are long, and each machine
gives them a different shape: two single-thread lanes on a 2-core box, eight runs packed on a lent
GPU for ten minutes. One queue file says what to run; this script decides when.

Queue file: one run a line, ``NAME SEED ARGS...`` where NAME is the run name without ``-s<SEED>``
and ARGS are ``cikgwb train`` arguments; ``#`` starts a comment. Example::

    book-crossing-cikgrec-wo-uir-valid 0 --dataset book-crossing --set no_uir=true --set min_epochs=30

Rules:
- a run whose ``metrics.json`` is finished (not cut by a time limit) under ``--reports-dir`` or any
  of the ``--done`` folders (default: the committed ``reports/runs``) is skipped, unless it
  early-stopped before the line's ``min_epochs`` (a line that raises it continues the run), or
  before its ``plateau_epochs`` with the first evaluation still the best;
- every line is read once, before any run starts, by ``cikgwb train``'s own parser and
  constructor (a bad line stops the campaign, naming it); each run's worker then trains that
  validated config from ``<run>/campaign.config.yaml`` (``cikgwb train --config``), rebuilding
  nothing from the line;
- every run starts with ``--resume``: one cut earlier continues from its last checkpoint;
- with ``--budget-s`` each run gets ``max_minutes`` = what is left of the budget (minus
  ``--reserve-s`` for evaluation and copying), and no run starts with less than ``--min-minutes``;
- each run's output goes to ``<reports-dir>/runs/<run>/campaign.log``; a failed run is reported and
  the queue goes on;
- with ``--land RUNS`` (a runs folder, e.g. the committed ``reports/runs``), each run that finishes
  has its files (all but ``campaign.log``) copied to ``RUNS/<run>/`` at once, ready to commit, and a
  run found finished there is skipped. So runs can train in a folder outside the work tree, which
  survives a fresh checkout, and land in it one by one. A landed run is a committed (headline) run:
  before it is copied, its explorer artefact (``explorer.npz``, ``cikgwb artefact``: a few MB, what
  the explorer and Figure 4 read) is made from its checkpoint, while that is still here
  (``--no-artefact``: not);

    python scripts/campaign.py QUEUE [--slots 2] [--threads 1] [--budget-s S] [--reports-dir D] [--land RUNS]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cikgwb.config import TrainConfig
from cikgwb.paths import committed_runs_root, reports_root
from cikgwb.run_folder import run_status
from cikgwb.run_spec import run_name


def read_queue(path: Path) -> list[tuple[str, int, list[str]]]:
    """``(name, seed, args)`` of every line; a malformed line is an error naming file and line."""
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = shlex.split(line)
        if len(parts) < 2 or not parts[1].isdigit():
            raise SystemExit(f"{path}:{i}: expected 'NAME SEED ARGS...' (SEED a non-negative integer), got {line!r}")
        out.append((parts[0], int(parts[1]), parts[2:]))
    return out


def int_setting(args: list[str], key: str) -> int | None:
    """The ``--set KEY=N`` of a queue line's arguments (the last one), else None."""
    out = None
    for flag, value in zip(args, args[1:]):
        if flag == "--set" and value.startswith(f"{key}="):
            out = int(value.split("=", 1)[1])
    return out


def finished(run_dir: Path, at_least: int | None = None, plateau: int | None = None) -> bool:
    """A run that ended by early stop or max_epochs (a cut run is not finished). With
    ``at_least`` (the queue line's ``min_epochs``), a run early-stopped before that many epochs
    is not finished either: the line asks for more, and the run resumes from its checkpoint. So
    with ``plateau`` (the line's ``plateau_epochs``), for a run that early-stopped before it while
    its selected epoch was still the first evaluation."""
    p = run_dir / "metrics.json"
    if not p.is_file():
        return False
    try:
        m = json.loads(p.read_text())
    except json.JSONDecodeError:
        return False
    status = run_status(m)
    # the trainer's own rule (TrainConfig.floor_epochs) with the line's floors
    floor = TrainConfig(min_epochs=at_least or 0, plateau_epochs=plateau or 0).floor_epochs(
        int(m.get("selected_epoch", -1))
    )
    if status == "early-stopped" and int(m.get("epochs_run", 0)) < floor:
        return False
    return "test" in m and status != "time-limit"


def run_configs(queue: Path, todo: list[tuple], device: str | None) -> dict[str, Any]:
    """The validated, resolved run config of each line to do, by run name: the line's ``cikgwb
    train`` arguments read by the command's own parser and constructor
    (:func:`cikgwb.cli.train.train_configs`), in the project folder, where a line's relative
    paths point. A bad line stops the campaign here, naming the queue and the run, before any
    run starts. Each worker trains its config from a ``config.yaml`` (nothing is rebuilt)."""
    import contextlib

    from cikgwb.cli import build_parser
    from cikgwb.cli.train import train_configs

    out = {}
    with contextlib.chdir(ROOT):
        for name, seed, _, line, *_ in todo:
            argv = ["train", "--name", name, "--seeds", str(seed), *line, *(["--device", device] if device else [])]
            try:
                (out[run_name(name, seed)],) = train_configs(build_parser().parse_args(argv))
            except (ValueError, OSError) as exc:
                raise SystemExit(f"{queue}: run {run_name(name, seed)}: {exc}") from None
    return out


def land(run_dir: Path, dest: Path) -> None:
    """Copy a finished run's files (its folder's plain files but ``campaign.log`` and
    ``campaign.config.yaml``) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(run_dir.iterdir()):
        if f.is_file() and not f.name.startswith("campaign."):
            shutil.copy2(f, dest / f.name)


def make_artefact(run_dir: Path, python: str, env: dict[str, str]) -> int:
    """``cikgwb artefact RUN_DIR`` (the run's ``explorer.npz`` from its checkpoint), its output
    appended to the run's ``campaign.log``; returns its exit code."""
    cmd = [python, "-m", "cikgwb", "artefact", str(run_dir)]
    with open(run_dir / "campaign.log", "a") as fh:
        fh.write(f"$ {shlex.join(cmd)}\n")
        fh.flush()
        return subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("queue", type=Path)
    ap.add_argument("--slots", type=int, default=1, help="runs at a time (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="torch/OMP threads per run (default 1)")
    ap.add_argument(
        "--reports-dir",
        type=Path,
        default=reports_root(ROOT),
        help="where runs are written (runs/<run>/); default $CIKGWB_REPORTS_DIR or reports",
    )
    ap.add_argument(
        "--done",
        type=Path,
        action="append",
        default=None,
        help="more runs folders whose finished runs are skipped (default: reports/runs)",
    )
    ap.add_argument(
        "--land",
        type=Path,
        default=None,
        metavar="RUNS",
        help="copy each finished run's files (not campaign.log) to RUNS/<run>/, e.g. reports/runs, after "
        "making its explorer artefact",
    )
    ap.add_argument(
        "--no-artefact",
        action="store_true",
        help="with --land: do not make the landed runs' explorer artefacts (explorer.npz)",
    )
    ap.add_argument("--budget-s", type=float, default=None, help="wall-time budget of the whole queue")
    ap.add_argument("--reserve-s", type=float, default=60.0, help="kept back from each run's max_minutes")
    ap.add_argument("--min-minutes", type=float, default=1.0, help="start no run with less than this left")
    ap.add_argument("--device", default=None, help="passed to cikgwb train (auto, cpu, cuda)")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra override for every run (repeatable), e.g. max_epochs=2 for a smoke test",
    )
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--dry-run", action="store_true", help="print what would run")
    a = ap.parse_args(argv)
    if a.slots < 1 or a.threads < 1:
        raise SystemExit(f"--slots and --threads must be >= 1 (got {a.slots}, {a.threads})")
    if not a.queue.is_file():
        raise SystemExit(f"{a.queue}: no such queue file")
    queue = read_queue(a.queue)
    done_dirs = a.done if a.done is not None else [committed_runs_root()]
    if a.land is not None:
        done_dirs = [*done_dirs, a.land]
    runs_dir = a.reports_dir / "runs"
    t0 = time.time()
    todo = []
    for name, seed, args in queue:
        run = run_name(name, seed)
        line = [*args, *(x for kv in a.sets for x in ("--set", kv))]
        floor, plateau = int_setting(line, "min_epochs"), int_setting(line, "plateau_epochs")
        if any(finished(d / run, floor, plateau) for d in [runs_dir, *done_dirs]):
            print(f"[done] {run}", flush=True)
            continue
        todo.append((name, seed, args, line, floor, plateau))
    print(f"{len(todo)} of {len(queue)} runs to do, {a.slots} at a time, {a.threads} thread(s) each", flush=True)
    configs = run_configs(a.queue, todo, a.device)
    if a.dry_run:
        for name, seed, args, *_ in todo:
            print(f"  {run_name(name, seed)}: {' '.join(args)}")
        return 0

    lock = threading.Lock()
    results: list[tuple[str, int, float]] = []
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(a.threads),
        "MKL_NUM_THREADS": str(a.threads),
        "CIKGWB_REPORTS_DIR": str(a.reports_dir),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                name, seed, _, _, floor, plateau = todo.pop(0)
            run = run_name(name, seed)
            cfg = configs[run]
            if a.budget_s is not None:
                left_min = (a.budget_s - (time.time() - t0) - a.reserve_s) / 60
                if left_min < a.min_minutes:
                    print(f"[skip] {run}: {left_min:.1f} min left of the budget", flush=True)
                    continue
                cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_minutes=round(left_min, 2)))
            (runs_dir / run).mkdir(parents=True, exist_ok=True)
            cfg_file = runs_dir / run / "campaign.config.yaml"  # beside campaign.log; neither lands
            cfg.save(cfg_file)
            cmd = [a.python, "-m", "cikgwb", "train", "--config", str(cfg_file.resolve()), "--resume", "--quiet"]
            log = runs_dir / run / "campaign.log"
            start = time.time()
            print(f"[start] {run} {time.strftime('%H:%M:%S')}", flush=True)
            with open(log, "a") as fh:
                fh.write(f"$ {shlex.join(cmd)}\n")
                fh.flush()
                rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            secs = time.time() - start
            if a.land is not None and rc == 0 and finished(runs_dir / run, floor, plateau):
                if not a.no_artefact:
                    arc = make_artefact(runs_dir / run, a.python, env)
                    if arc != 0:  # landed all the same: the explorer says how to make it later
                        print(f"[artefact FAILED] {run} rc={arc} (log {runs_dir / run / 'campaign.log'})", flush=True)
                land(runs_dir / run, a.land / run)
                print(f"[landed] {run} in {a.land / run}", flush=True)
            with lock:
                results.append((run, rc, secs))
            print(f"[{'end' if rc == 0 else 'FAILED'}] {run} rc={rc} {secs / 60:.1f} min (log {log})", flush=True)

    threads = [threading.Thread(target=worker) for _ in range(a.slots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\n{'run':<55} {'rc':>3} {'min':>6}  stop / R@50 / N@50")
    for run, rc, secs in results:
        p = runs_dir / run / "metrics.json"
        info = ""
        if rc == 0 and p.is_file():
            m = json.loads(p.read_text())
            info = (
                f"{m.get('stop_reason', '')[:32]} / {m['test']['recall@50']:.4f} / {m['test']['ndcg@50']:.4f}"
                f" (epoch {m.get('selected_epoch')}/{m.get('epochs_run')})"
            )
        print(f"{run:<55} {rc:>3} {secs / 60:>6.1f}  {info}")
    return 0 if all(rc == 0 for _, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
