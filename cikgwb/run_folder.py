"""A run folder, below the trainer: its file names, where its checkpoints are, whether it holds
a finished run, its lock, and the atomic writes of its files. The trainer (:mod:`cikgwb.train`)
writes a run folder through these; the run store (:mod:`cikgwb.runs`: the index, ``find_run``,
reload) and the views read it through them.

A run folder (``reports/runs/<name>/``) holds::

    config.yaml        the full RunConfig (:data:`CONFIG_FILE`)
    history.jsonl      one line per epoch (:data:`HISTORY_FILE`)
    metrics.json       selection and test metrics at the selected epoch, ``status``, provenance
    test_per_user.npz  per-user test metrics at the selected epoch (:data:`PER_USER_FILE`)
    checkpoints.json   where the run's checkpoints are (:data:`CHECKPOINTS_FILE`)
    explorer.npz       the explorer's artefact, for headline runs (:data:`ARTEFACT_FILE`)

Checkpoints (``last.pt`` and ``best.pt``) live OUTSIDE the work tree, under
``$CIKGWB_CHECKPOINT_DIR`` (default ``~/.cache/cikgwb/checkpoints``) in a folder named by the run
folder's path inside the project (:func:`checkpoint_key`), so that ``--resume`` finds them from a
fresh clone on the same machine. A run folder from before this rule (``<run>/checkpoints/``) is
still found.

**Status.** How a finished run ended is its ``status`` (:func:`run_status`): ``early-stopped``,
``closed-form`` (EASE, ItemKNN, GF-CF, MostPop: fitted once), ``max-epochs`` or ``time-limit``;
the first two are complete (:func:`converged`). A run written before ``status`` existed has it
read from its ``stop_reason`` here, and only here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_open, atomic_write_text
from .locks import LockBusy, hold_lock
from .paths import checkpoint_root, project_root

CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.jsonl"
METRICS_FILE = "metrics.json"
CHECKPOINTS_FILE = "checkpoints.json"
PER_USER_FILE = "test_per_user.npz"
#: the explorer's compact artefact of a finished run (:mod:`cikgwb.run_artefact`)
ARTEFACT_FILE = "explorer.npz"
#: beside a run whose settings were chosen on the selection split from a grid (``cikgwb sweep
#: --select``): the sweep, the split, every point's selection score and the chosen point
GRID_SELECTION_FILE = "grid_selection.json"


class RunExistsError(RuntimeError):
    """A new run would overwrite a finished run's folder (resume or overwrite to go on)."""


class RunBusy(RunExistsError):
    """Another process is training the same run folder (:func:`run_lock`)."""


# ----------------------------------------------------------------------------- status
#: how a run ended (metrics.json ``status``), with the stop reason the trainer writes beside it
STATUS_REASONS = {
    "early-stopped": "early stop",
    "closed-form": "closed form: fitted once from the training pairs (no epochs to select)",
    "max-epochs": "max_epochs",
    "time-limit": "time limit",
}
#: the stop reason of a closed-form model (EASE, ItemKNN, GF-CF, MostPop): fitted once, complete
CLOSED_FORM_STOP = STATUS_REASONS["closed-form"]
COMPLETE = ("early-stopped", "closed-form")


def run_status(metrics: dict[str, Any]) -> str | None:
    """A finished run's ``status`` (module docstring): the one written in its ``metrics.json``, or,
    for a run written before it, read from the start of its ``stop_reason`` (None: unknown)."""
    if metrics.get("status"):
        return str(metrics["status"])
    stop = str(metrics.get("stop_reason") or "")
    for status, reason in STATUS_REASONS.items():
        if stop.startswith(reason.split(":")[0]):
            return status
    return None


def converged(status: str | None) -> bool:
    """Whether a run ended complete: early-stopped, or a closed-form model fitted once (not cut by
    ``max_epochs`` or a time limit)."""
    return status in COMPLETE


# ----------------------------------------------------------------------------- files
def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """``obj`` as JSON (one final newline), written atomically (:mod:`cikgwb.atomic`)."""
    atomic_write_text(Path(path), json.dumps(obj, indent=indent) + "\n")
    return Path(path)


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """The epochs of a run's ``history.jsonl`` (empty when there is none yet)."""
    p = Path(run_dir) / HISTORY_FILE
    return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []


def checkpoints_record(run_dir: str | Path, ckpt_dir: str | Path) -> dict[str, Any]:
    """What ``checkpoints.json`` says: where the run's checkpoints are, and how to find them."""
    return {
        "dir": str(Path(ckpt_dir).resolve()),
        "key": checkpoint_key(run_dir),
        "files": list(CHECKPOINT_FILES),
        "note": "checkpoints live outside the work tree ($CIKGWB_CHECKPOINT_DIR, default "
        "~/.cache/cikgwb/checkpoints/<key>); `cikgwb train ... --resume` finds them from any clone "
        "on this machine",
    }


# ----------------------------------------------------------------------------- checkpoints
CHECKPOINT_FILES = ("last.pt", "best.pt")


def checkpoint_key(run_dir: str | Path) -> str:
    """The name of a run's checkpoint folder under :func:`checkpoint_root`: the run folder's
    path relative to the project root (``reports/runs/<name>``, ``reports/sweeps/<s>/runs/<r>``:
    the same in every clone), or, for a run folder outside the project, ``_outside/<name>-<hash
    of its absolute path>``."""
    run_dir = Path(run_dir).expanduser().resolve()
    try:
        rel = run_dir.relative_to(project_root())
        if rel.parts:
            return rel.as_posix()
    except ValueError:
        pass
    return f"_outside/{run_dir.name}-{hashlib.sha1(str(run_dir).encode()).hexdigest()[:12]}"


def default_checkpoint_dir(run_dir: str | Path) -> Path:
    """Where a new run keeps its checkpoints (module docstring)."""
    return checkpoint_root() / checkpoint_key(run_dir)


def checkpoint_candidates(run_dir: str | Path) -> list[Path]:
    """Folders that may hold a run's checkpoints, in the order they are tried: the one recorded
    in ``checkpoints.json``, the default one (:func:`default_checkpoint_dir`), then
    ``<run>/checkpoints`` (runs from before checkpoints moved out of the work tree)."""
    run_dir = Path(run_dir)
    out: list[Path] = []
    rec = run_dir / "checkpoints.json"
    if rec.exists():
        try:
            out.append(Path(json.loads(rec.read_text())["dir"]))
        except (ValueError, KeyError, TypeError):
            pass
    for p in (default_checkpoint_dir(run_dir), run_dir / "checkpoints"):
        if p not in out:
            out.append(p)
    return out


def find_checkpoint(run_dir: str | Path, name: str = "best.pt") -> Path | None:
    """The path of a run's checkpoint ``name`` (``best.pt`` or ``last.pt``), or None where no
    candidate folder (:func:`checkpoint_candidates`) holds it."""
    for d in checkpoint_candidates(run_dir):
        if (d / name).is_file():
            return d / name
    return None


def staging_dir(run_dir: str | Path) -> Path:
    """Where ``--overwrite`` of a finished run trains until it has finished (:meth:`Trainer.fit`):
    ``_staging/<key>`` under :func:`checkpoint_root`, outside the work tree and every runs folder,
    so that no table lists a half-trained replacement."""
    return checkpoint_root() / "_staging" / checkpoint_key(run_dir)


def checkpoint_dir(run_dir: str | Path) -> Path:
    """The folder holding a run's checkpoints: the first candidate with a ``last.pt`` (or a
    ``best.pt``), else where a new run would write them."""
    for name in CHECKPOINT_FILES:
        found = find_checkpoint(run_dir, name)
        if found is not None:
            return found.parent
    return default_checkpoint_dir(run_dir)


def check_run_dir(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse, before any work, a new run that would destroy a finished run's results: a folder
    with ``metrics.json`` needs ``resume`` (continue from its checkpoint, which must be found)
    or ``overwrite`` (train again from scratch)."""
    run_dir = Path(run_dir)
    if overwrite or not finished_run(run_dir):
        return
    if not resume:
        raise RunExistsError(
            f"{run_dir} holds a finished run (metrics.json); nothing was changed. Use --resume to continue it "
            "from its last checkpoint, --overwrite to train it again from scratch (its results are replaced), "
            "or --name for a new run folder"
        )
    if find_checkpoint(run_dir, "last.pt") is None:
        raise RunExistsError(
            f"--resume: {run_dir} holds a finished run (metrics.json) but no checkpoint of it is on this machine "
            f"(looked in {', '.join(str(p) for p in checkpoint_candidates(run_dir))}; set CIKGWB_CHECKPOINT_DIR "
            "if they are elsewhere); nothing was changed. Use --overwrite to train it again from scratch"
        )


def finished_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a finished run: a ``metrics.json`` that reads as JSON. An empty
    or cut one (a run stopped while writing it, before writes were atomic) is no result to keep."""
    try:
        return isinstance(json.loads((Path(run_dir) / METRICS_FILE).read_text()), dict)
    except (OSError, ValueError):  # missing, unreadable, empty or cut
        return False


def run_lock_path(run_dir: str | Path) -> Path:
    """The lock file of a run folder (:func:`run_lock`): ``<its checkpoint folder>.lock``."""
    d = default_checkpoint_dir(run_dir)
    return d.with_name(d.name + ".lock")


def run_lock(run_dir: str | Path) -> Any:
    """Lock a run folder for this process (:func:`cikgwb.locks.hold_lock`) for as long as a run
    writes it: a second run of the same folder, in this or another process, gets :class:`RunBusy`
    at once. The lock file is ``<checkpoint folder>.lock`` (:func:`default_checkpoint_dir`, outside
    the work tree): one per run folder, shared by the clones that share its checkpoints."""
    try:
        return hold_lock(
            run_lock_path(run_dir),
            f"run folder {run_dir}",
            "wait for it to finish, or give this run another --name",
        )
    except LockBusy as exc:
        raise RunBusy(str(exc)) from None


# ----------------------------------------------------------------------------- per-user test metrics


def save_per_user(path: str | Path, res: Any, epoch: int | None = None) -> Path:
    """Write an :class:`~cikgwb.evaluate.EvalResult`'s per-user metrics of the evaluated users,
    compressed: ``users`` (int32 ids) and one float32 array per ``metric@k`` (same order), plus
    ``epoch`` (the selected epoch)."""
    path = Path(path)
    users = np.flatnonzero(res.evaluated).astype(np.int32)
    arrays = {k: np.asarray(v)[users].astype(np.float32) for k, v in sorted(res.per_user.items())}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, users=users, epoch=np.int64(-1 if epoch is None else epoch), **arrays)
    return path


def load_per_user(run_dir: str | Path) -> dict[str, np.ndarray]:
    """``{"users": ..., "recall@50": ..., ...}`` of a run's ``test_per_user.npz``."""
    p = Path(run_dir) / PER_USER_FILE
    if not p.exists():
        raise FileNotFoundError(
            f"{p} not found: the run predates per-user metrics; write it with "
            f"`cikgwb per-user {run_dir}` (needs the run's best.pt checkpoint)"
        )
    with np.load(p) as z:
        return {k: z[k] for k in z.files}
