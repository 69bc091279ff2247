"""Trainer: seeded sampling, epochs, validation every epoch, early stopping, checkpoints and
resume, per-epoch history written as it goes, test evaluated once at the selected epoch.

Every run writes ``reports/runs/<name>/``::

    config.yaml      the full RunConfig
    history.jsonl    one line per epoch: loss terms, mask rate, selection metrics, seconds
    metrics.json     valid and test at the selected epoch + dataset, protocol, seed, device,
                     machine, git commit, wall time, where the checkpoints are
    test_per_user.npz  per-user test metrics at the selected epoch (``users`` and one float32
                     array per metric@k; :func:`write_per_user` makes it for an older run)
    checkpoints.json where the run's checkpoints are

Checkpoints (``last.pt`` and ``best.pt``: model, optimisers, RNG states, the history so far)
live OUTSIDE the work tree, under ``$CIKGWB_CHECKPOINT_DIR`` (default
``~/.cache/cikgwb/checkpoints``, or ``$XDG_CACHE_HOME/cikgwb/checkpoints``) in a folder named by
the run folder's path inside the project (``reports/runs/<name>``), so that ``--resume``
finds them from a fresh clone of the repository on the same machine (:func:`checkpoint_dir`).
A run folder from before this rule (``<run>/checkpoints/last.pt``) is still found.

A run folder holding a finished run (``metrics.json``) is never touched by a new run: a new
attempt refuses (:class:`RunExistsError`) unless it resumes (``resume=True``) or overwrites
(``overwrite=True``); even then nothing in the folder changes until the model is built and
training is about to start.

``protocol="valid"`` (the default) selects on the validation split and evaluates test once.
``protocol="users"`` trains on all of train.txt, selects on the test items of a seeded half of the
test users (``sel_half`` in the history and metrics.json) and evaluates the other half once
(``test``, and ``test_per_user.npz``: the report half only).
``protocol="authors"`` trains on all of train.txt and selects on TEST, as the authors' code
does: its figures are for comparison with the paper's Table 1 only and are labelled so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .atomic import DiskFull, atomic_open, atomic_write_bytes, atomic_write_text, remove_stale_temps
from .config import RunConfig
from .data.dataset import Dataset
from .evaluate import evaluate
from .locks import release as release_lock
from .paths import checkpoint_root, project_root, relative_to_cwd, runs_root
from .runs import (  # noqa: F401  (reads_*, prepare_dataset: re-exported, their home is cikgwb.runs)
    CLOSED_FORM_STOP,
    PROTOCOL_NOTES,
    interest_source_used,
    prepare_dataset,
    prepare_run,
    protocol_splits,
    reads_interests,
    reads_paper_interests,
)
from .sampling import PairSampler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


class RunExistsError(RuntimeError):
    """A new run would overwrite a finished run's folder (resume or overwrite to go on)."""


class RunBusy(RunExistsError):
    """Another process is training the same run folder (:func:`run_lock`)."""


# ----------------------------------------------------------------------------- checkpoints
CHECKPOINT_FILES = ("last.pt", "best.pt")
# settings a resumed run may change (its budget, where it runs); any other difference from the
# checkpoint's config is refused, so that one history never mixes two configurations
RESUME_MAY_CHANGE = {
    "name",
    "max_epochs",
    "max_minutes",
    "patience",
    "min_epochs",
    "plateau_epochs",
    "device",
    "eval_batch_size",
    "checkpoint_every",
}


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
        return isinstance(json.loads((Path(run_dir) / "metrics.json").read_text()), dict)
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
    from .locks import LockBusy, hold_lock

    try:
        return hold_lock(
            run_lock_path(run_dir),
            f"run folder {run_dir}",
            "wait for it to finish, or give this run another --name",
        )
    except LockBusy as exc:
        raise RunBusy(str(exc)) from None


def config_differences(
    saved: dict[str, Any], now: dict[str, Any], names: tuple[str, str] = ("in the checkpoint", "now")
) -> list[str]:
    """The settings of a checkpoint's config (``saved``) that differ from ``now`` (a
    ``config.yaml`` dict), but those a resumed run may change. A checkpoint written before
    issue 19 holds the old flat model settings: they are read in the model's own form first
    (:func:`cikgwb.models.config_from_dict`), so like is compared with like."""
    if isinstance(saved.get("model"), dict):
        from .models import config_from_dict

        try:
            saved = config_from_dict(saved, validate=False).to_dict()
        except ValueError:
            pass  # compared as it is: a model or setting this code does not know shows as a difference
    diffs = []
    for sect in ("", "model", "train"):
        a = saved.get(sect, {}) if sect else saved
        b = now.get(sect, {}) if sect else now
        for k in sorted(set(a) & set(b)):
            if k in ("model", "train") and not sect or k in RESUME_MAY_CHANGE:
                continue
            va, vb = a[k], b[k]
            if isinstance(va, (list, tuple)) or isinstance(vb, (list, tuple)):
                va, vb = list(va or []), list(vb or [])
            if va != vb:
                diffs.append(f"{k}: {va!r} {names[0]}, {vb!r} {names[1]}")
    return diffs


def pick_device(name: str = "auto") -> torch.device:
    """The torch device of the setting ``device``; a ValueError (one line, naming the setting)
    where this torch cannot use it (``cuda`` on a CPU-only build or without a visible GPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        why = "is a CPU-only build" if torch.version.cuda is None else "sees no GPU"
        raise ValueError(f"--device {name}: this torch ({torch.__version__}) {why}; use --device cpu (or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"--device {name}: MPS is not available to this torch ({torch.__version__}); use --device cpu")
    return torch.device(name)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``): timings
    are only comparable on the same kind of CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict[str, Any]:
    """Where a figure came from: host, CPU model and count, torch threads, GPU name."""
    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def git_commit(paths: tuple[str, ...] = ()) -> str | None:
    """HEAD, with ``-dirty`` where tracked files have uncommitted changes (only those under
    ``paths``, relative to the project root, where given)."""
    if os.environ.get("CIKGWB_GIT_COMMIT"):  # set where the tree travels without .git (e.g. a GPU host)
        return os.environ["CIKGWB_GIT_COMMIT"]
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=root)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", *(["--", *paths] if paths else [])],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=root,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def is_closed_form(model: Any) -> bool:
    """Whether ``model`` is computed once from the training pairs (``closed_form = True``: EASE,
    ItemKNN, GF-CF, MostPop in :mod:`cikgwb.models.simple`): no optimiser, no epochs."""
    return bool(getattr(model, "closed_form", False))


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    st = {"torch": torch.get_rng_state(), "sampler": gen.get_state(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(gen: torch.Generator, st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    gen.set_state(st["sampler"])
    np.random.set_state(st["numpy"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _atomic_save(obj: Any, path: Path) -> None:
    from .atomic import atomic_torch_save  # the one atomic-write helper (temp file, fsync, os.replace)

    atomic_torch_save(obj, path)


class Trainer:
    """Train one model under one config; see the module docstring for what a run writes.

    The caller resolves the run (:func:`cikgwb.runs.prepare_run`: the config's name and
    interest source, the dataset with its interest graph) and the trainer only reads them; a
    config or dataset not yet prepared is prepared here, on a copy (``cfg`` is never changed)."""

    def __init__(
        self, cfg: RunConfig, ds: Dataset | None = None, run_dir: str | Path | None = None, progress: bool = True
    ):
        self.cfg, self.ds = prepare_run(cfg, ds)  # a no-op for a prepared run
        tc = self.cfg.train
        splits = protocol_splits(tc.protocol)
        self.device = pick_device(tc.device)
        self.run_dir = Path(run_dir) if run_dir else relative_to_cwd(runs_root() / self.cfg.name)
        self.ckpt_dir = checkpoint_dir(self.run_dir)  # set again by fit(): resumed or new
        self.progress = progress
        self.train_pairs = splits.train_pairs(self.ds)
        self.sel_heldout, self.sel_exclude = splits.masks(self.ds)
        self.sel_split = splits.select
        self.test_heldout, self.test_exclude = splits.masks(self.ds, splits.test)

    # ------------------------------------------------------------------ pieces
    def _build(self):
        from .models import build_model

        torch.manual_seed(self.cfg.train.seed)
        np.random.seed(self.cfg.train.seed)
        model = build_model(self.cfg.model.model, self.ds, self.cfg.model, self.train_pairs, self.device)
        # a closed-form model (cikgwb.models.simple) is fitted once, by no optimiser
        opt = None if is_closed_form(model) else torch.optim.Adam(model.main_parameters(), lr=self.cfg.train.lr)
        gen = torch.Generator().manual_seed(self.cfg.train.seed)
        return model, opt, gen

    def _evaluate(self, model, heldout, exclude, return_topk=None):
        model.eval()
        with torch.no_grad():
            fn = model.score_fn()
            res = evaluate(
                fn,
                heldout,
                exclude,
                ks=self.cfg.train.ks,
                batch_size=self.cfg.train.eval_batch_size,
                device=self.device,
                return_topk=return_topk,
            )
        model.train()
        return res

    def _checkpoint(self, path, model, opt, gen, epoch, best, bad, best_epoch):
        # the history so far and the calls travel with the checkpoint: a resume in a fresh clone
        # (no history.jsonl) restores them
        _atomic_save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict() if opt is not None else None,
                "extra_optimizers": {k: o.state_dict() for k, o in model.extra_optimizers().items()},
                "rng": _rng_state(gen),
                "epoch": epoch,
                "best_score": best,
                "bad_epochs": bad,
                "best_epoch": best_epoch,
                "config": self.cfg.to_dict(),
                "history": self.history(),
                "calls": self._calls,
                "run_dir": str(getattr(self, "_home", self.run_dir).resolve()),
            },
            path,
        )

    def _record_checkpoints(self) -> None:
        atomic_write_text(self.run_dir / "checkpoints.json", self._checkpoints_text())

    def _checkpoints_text(self) -> str:
        return (
            json.dumps(
                {
                    "dir": str(self.ckpt_dir.resolve()),
                    "key": checkpoint_key(self.run_dir),
                    "files": list(CHECKPOINT_FILES),
                    "note": "checkpoints live outside the work tree ($CIKGWB_CHECKPOINT_DIR, default "
                    "~/.cache/cikgwb/checkpoints/<key>); `cikgwb train ... --resume` finds them from any clone "
                    "on this machine",
                },
                indent=1,
            )
            + "\n"
        )

    # ------------------------------------------------------------------ main loop
    def fit(self, resume: bool = False, stop_after_epochs: int | None = None, overwrite: bool = False) -> TrainResult:
        """Train to early stop (or ``max_epochs`` / ``max_minutes``); ``stop_after_epochs``
        interrupts the run after that many epochs of this call (for tests of resume).

        A folder holding a finished run is refused unless ``resume`` or ``overwrite``
        (:func:`check_run_dir`); nothing in the folder changes before the model is built and,
        when resuming, its checkpoint loaded. The folder is locked for the whole call
        (:func:`run_lock`); temporary files a killed run left beside its files are removed first.
        ``overwrite`` of a finished run trains in a staging folder (:func:`staging_dir`): the
        finished run stays whole, and in the tables, until the new one has finished and replaces
        it (:meth:`_promote`). A full disk stops the run with one line saying what was kept."""
        final = self.run_dir
        lock = run_lock(final)
        staged = overwrite and not resume and finished_run(final)
        try:
            for d in {final, *checkpoint_candidates(final)}:
                remove_stale_temps(d)
            (final / (PER_USER_FILE + ".tmp.npz")).unlink(missing_ok=True)  # the old writer's temporary file
            if staged:
                self.run_dir = staging_dir(final)
                for d in (self.run_dir, default_checkpoint_dir(self.run_dir)):
                    shutil.rmtree(d, ignore_errors=True)  # an earlier overwrite that did not finish
            self._home = final
            try:
                res = self._fit(resume=resume, stop_after_epochs=stop_after_epochs, overwrite=overwrite)
                return self._promote(final, res) if staged and "test" in res.metrics else res
            except DiskFull as exc:
                raise DiskFull(exc.errno, f"{exc}; {self._kept(final, staged)}") from None
        finally:
            self.run_dir = final
            release_lock(lock)

    def _kept(self, final: Path, staged: bool) -> str:
        """What a run stopped by a full disk leaves (for the one-line message)."""
        if staged:
            return (
                f"the run stopped; the finished run in {final} is kept unchanged (free space, then --overwrite again)"
            )
        last = self.ckpt_dir / "last.pt"
        try:
            epoch = torch.load(last, map_location="cpu", weights_only=False)["epoch"]
        except (OSError, RuntimeError, KeyError, EOFError):
            return "the run stopped before its first checkpoint: nothing of it was kept"
        return (
            f"the run stopped; its checkpoints up to epoch {epoch} are kept in {self.ckpt_dir} (free space, "
            "then rerun with --resume)"
        )

    def _promote(self, final: Path, res: TrainResult) -> TrainResult:
        """Replace the finished run in ``final`` by the one just trained in its staging folder.
        Every new file is first written beside the old one (a full disk there changes nothing);
        then only renames: the old ``metrics.json`` goes, the checkpoints move (same filesystem),
        the new files take their names, ``metrics.json`` last; the staging folder goes."""
        staging, staging_ckpt = self.run_dir, self.ckpt_dir
        final_ckpt = default_checkpoint_dir(final)
        metrics = {**res.metrics, "checkpoints": str(final_ckpt.resolve())}
        self.run_dir, self.ckpt_dir = final, final_ckpt
        new = {name: (staging / name).read_bytes() for name in ("history.jsonl", "config.yaml", PER_USER_FILE)}
        new["checkpoints.json"] = self._checkpoints_text().encode()
        new["metrics.json"] = (json.dumps(metrics, indent=2) + "\n").encode()  # last
        ready: dict[str, Path] = {}
        try:
            for name, data in new.items():
                ready[name] = atomic_write_bytes(final / f".{name}.promote.tmp", data)
        except BaseException:
            for p in ready.values():
                p.unlink(missing_ok=True)
            self.run_dir, self.ckpt_dir = staging, staging_ckpt
            raise
        old_dirs = [d for d in checkpoint_candidates(final) if d != final_ckpt]  # read before checkpoints.json moves
        (final / "metrics.json").unlink(missing_ok=True)
        final_ckpt.mkdir(parents=True, exist_ok=True)
        for name in CHECKPOINT_FILES:
            for d in old_dirs:  # the old run's, wherever they were
                (d / name).unlink(missing_ok=True)
            os.replace(staging_ckpt / name, final_ckpt / name)
        for name, p in ready.items():
            os.replace(p, final / name)
        for d in (staging, staging_ckpt):
            shutil.rmtree(d, ignore_errors=True)
        return TrainResult(final, metrics, self.history())

    def _fit(self, resume: bool = False, stop_after_epochs: int | None = None, overwrite: bool = False) -> TrainResult:
        """:meth:`fit`'s work, in ``self.run_dir`` (the run folder, or its staging folder)."""
        cfg, tc = self.cfg, self.cfg.train
        check_run_dir(self.run_dir, resume=resume, overwrite=overwrite)
        hist_path = self.run_dir / "history.jsonl"
        model, opt, gen = self._build()
        start_epoch, best, bad, best_epoch = 0, -math.inf, 0, -1
        # a closed-form model has nothing to resume: it is fitted again (the same result)
        last = find_checkpoint(self.run_dir, "last.pt") if resume and opt is not None else None
        kept: list[str] | None = None
        self._calls: list[dict[str, Any]] = []
        if last is not None:
            ck = torch.load(last, map_location=self.device, weights_only=False)
            diffs = config_differences(ck.get("config", {}), cfg.to_dict())
            if diffs:
                raise RunExistsError(
                    f"--resume: the checkpoint {last} was trained with other settings ("
                    + "; ".join(diffs)
                    + "); nothing was changed. Resume with the same settings, "
                    "or use --overwrite (or --name) to start a new run"
                )
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            for k, o in model.extra_optimizers().items():
                o.load_state_dict(ck["extra_optimizers"][k])
            _set_rng_state(gen, ck["rng"])
            start_epoch, best, bad, best_epoch = ck["epoch"] + 1, ck["best_score"], ck["bad_epochs"], ck["best_epoch"]
            self._calls = list(ck.get("calls", []))
            self.ckpt_dir = last.parent
            # keep the history of checkpointed epochs only: the checkpoint's own copy, else the file's
            if "history" in ck:
                kept = [json.dumps(r) for r in ck["history"] if r["epoch"] < start_epoch]
            else:
                lines = hist_path.read_text().splitlines() if hist_path.exists() else []
                kept = [ln for ln in lines if ln.strip() and json.loads(ln)["epoch"] < start_epoch]
        else:
            self.ckpt_dir = default_checkpoint_dir(self.run_dir)
        # from here on the run folder changes
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        if kept is not None:
            atomic_write_text(hist_path, "".join(ln + "\n" for ln in kept))
        else:
            atomic_write_text(hist_path, "")
            for p in (self.run_dir / "metrics.json", self.run_dir / PER_USER_FILE):
                p.unlink(missing_ok=True)
            for name in CHECKPOINT_FILES:  # a new run: no checkpoint of an older one may be found
                for d in checkpoint_candidates(self.run_dir):
                    (d / name).unlink(missing_ok=True)
        last = self.ckpt_dir / "last.pt"
        cfg.save(self.run_dir / "config.yaml")
        self._record_checkpoints()
        self._calls.append(
            {
                "start_epoch": start_epoch,
                "resumed": start_epoch > 0,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": platform.node(),
                "run_dir": str(getattr(self, "_home", self.run_dir).resolve()),  # not a staging folder
                "git_commit": git_commit(),
                # the settings a resume may change, as this call ran with them (config.yaml has the last call's)
                "settings": {k: getattr(tc, k) for k in sorted(RESUME_MAY_CHANGE) if hasattr(tc, k)},
            }
        )
        if opt is None:
            return self._fit_closed_form(model, gen)

        sampler = PairSampler(self.train_pairs, self.ds.n_items, tc.batch_size, self.device)
        t_start = time.time()
        stop_reason = f"max_epochs={tc.max_epochs} reached (not early-stopped)"
        epochs_this_call = 0
        bar = tqdm(
            range(start_epoch, tc.max_epochs),
            desc=f"{cfg.name}",
            disable=not self.progress,
            initial=start_epoch,
            total=tc.max_epochs,
            unit="epoch",
        )
        model.train()
        for epoch in bar:
            t0 = time.time()
            sums: dict[str, torch.Tensor] = {}
            for users, pos, neg in tqdm(
                sampler.epoch(gen),
                total=len(sampler),
                leave=False,
                disable=not self.progress,
                desc=f"epoch {epoch}",
                unit="batch",
            ):
                terms = model.loss(users, pos, neg, epoch)
                loss = terms["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for k, v in terms.items():  # summed on the device: no host sync per batch
                    sums[k] = sums[k] + v.detach() if k in sums else v.detach().clone()
            rec = {"epoch": epoch, **{k: float(v) / len(sampler) for k, v in sums.items()}}
            if not math.isfinite(rec["loss"]):
                raise TrainingDiverged(
                    f"{cfg.name}: loss became {rec['loss']} at epoch {epoch} "
                    f"({ {k: v for k, v in rec.items() if k.startswith('loss')} }); stopped. The last good "
                    f"checkpoint is kept at {last} (epoch {epoch - 1}); lower the learning rate or the loss "
                    "weights and resume or restart."
                )
            rec.update(model.after_epoch(epoch, gen))
            rec.update(model.epoch_info(epoch))
            if any(not math.isfinite(v) for k, v in rec.items() if k.startswith("loss")):
                raise TrainingDiverged(
                    f"{cfg.name}: non-finite loss at epoch {epoch}: {rec}; the last good checkpoint is kept at {last}"
                )
            rec["epoch_seconds"] = time.time() - t0
            improved = False
            if (epoch + 1) % tc.eval_every == 0:
                res = self._evaluate(model, self.sel_heldout, self.sel_exclude)
                score = res.score(tc.selection)
                rec.update({f"{self.sel_split}_{k}": v for k, v in res.metrics.items()})
                rec["score"] = score
                rec["eval_seconds"] = res.seconds
                if score > best:
                    best, bad, best_epoch, improved = score, 0, epoch, True
                else:
                    bad += 1
            # the whole file written again (atomically): a full disk never leaves a cut line
            atomic_write_text(hist_path, hist_path.read_text() + json.dumps(rec) + "\n")
            self._calls[-1]["end_epoch"] = epoch
            if improved:
                self._checkpoint(self.ckpt_dir / "best.pt", model, opt, gen, epoch, best, bad, best_epoch)
            self._checkpoint(last, model, opt, gen, epoch, best, bad, best_epoch)
            bar.set_postfix(
                loss=f"{rec.get('loss', 0):.4f}", score=f"{rec.get('score', float('nan')):.4f}", best=best_epoch
            )
            epochs_this_call += 1
            if bad >= tc.patience and epoch + 1 >= tc.floor_epochs(best_epoch):
                stop_reason = f"early stop: no improvement of {'+'.join(tc.selection)} on {self.sel_split} for {tc.patience} evaluations"
                break
            if tc.max_minutes is not None and (time.time() - t_start) / 60 >= tc.max_minutes:
                stop_reason = f"time limit: max_minutes={tc.max_minutes} reached (not converged)"
                break
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
                bar.close()
                return TrainResult(self.run_dir, {"interrupted_at_epoch": epoch}, self.history())
        bar.close()
        return TrainResult(
            self.run_dir, self.finish(model, best_epoch, stop_reason, time.time() - t_start), self.history()
        )

    def _fit_closed_form(self, model, gen) -> TrainResult:
        """A closed-form model (:func:`is_closed_form`) is fitted once from the training pairs
        and evaluated once on the selection split: one history line (epoch 0; ``epoch_seconds``
        is the fit), ``best.pt`` and ``last.pt`` (no tensor in them: the model refits when it is
        reloaded), then :meth:`finish` as for a trained run, with :data:`CLOSED_FORM_STOP`."""
        t0 = time.time()
        rec: dict[str, Any] = {"epoch": 0, "epoch_seconds": model.fit()}
        res = self._evaluate(model, self.sel_heldout, self.sel_exclude)
        rec.update({f"{self.sel_split}_{k}": v for k, v in res.metrics.items()})
        rec.update(score=res.score(self.cfg.train.selection), eval_seconds=res.seconds)
        atomic_write_text(self.run_dir / "history.jsonl", json.dumps(rec) + "\n")
        self._calls[-1]["end_epoch"] = 0
        for name in CHECKPOINT_FILES:
            self._checkpoint(self.ckpt_dir / name, model, None, gen, 0, rec["score"], 0, 0)
        return TrainResult(self.run_dir, self.finish(model, 0, CLOSED_FORM_STOP, time.time() - t0), self.history())

    def history(self) -> list[dict[str, Any]]:
        p = self.run_dir / "history.jsonl"
        return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []

    def finish(self, model, best_epoch: int, stop_reason: str, wall: float) -> dict[str, Any]:
        """Reload the selected epoch; evaluate the selection split and, under the valid protocol, test once."""
        ck = torch.load(self.ckpt_dir / "best.pt", map_location=self.device, weights_only=False)
        model.load_state_dict(ck["model"])
        sel = self._evaluate(model, self.sel_heldout, self.sel_exclude)
        tc = self.cfg.train
        hist = self.history()
        out: dict[str, Any] = {
            "name": self.cfg.name,
            "dataset": self.ds.name,
            "model": self.cfg.model.model,
            "protocol": tc.protocol,
            "protocol_note": PROTOCOL_NOTES[tc.protocol],
            "views": getattr(self.cfg.model, "views", "paper"),
            "interests": interest_source_used(self.cfg, self.ds.meta.get("interests_source")),
            "kg": self.ds.meta.get("kg"),
            "seed": tc.seed,
            "split_seed": tc.split_seed,
            "selected_epoch": best_epoch,
            "stop_reason": stop_reason,
            "selection": list(tc.selection),
            "device": str(self.device),
            "machine": machine_info(self.device),
            # the code that ran: the commit when the last call started (the tree may move on meanwhile)
            "git_commit": self._calls[-1]["git_commit"] if self._calls else git_commit(),
            # training + evaluation seconds of every epoch, over all the calls of a resumed run
            "wall_seconds": float(sum(r.get("epoch_seconds", 0.0) + r.get("eval_seconds", 0.0) for r in hist)),
            "wall_seconds_last_call": wall,
            "epochs_run": len(hist),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # where the checkpoints are (outside the work tree) and the calls that made the history
            "checkpoints": str(self.ckpt_dir.resolve()),
            "resumable": True,
            "cut": not stop_reason.startswith("early stop"),
            "calls": getattr(self, "_calls", []),
        }
        if self.sel_split != protocol_splits(tc.protocol).test:  # selected apart from test: test evaluated once now
            test = self._evaluate(model, self.test_heldout, self.test_exclude)
            out[self.sel_split] = sel.metrics  # "valid" or "sel_half": never a table's result
            out["test"] = test.metrics
            if tc.protocol == "users":
                n_rep, n_sel = test.n_users_evaluated, sel.n_users_evaluated
                out["test_users"] = (
                    f"report half: {n_rep} of the {n_rep + n_sel} test users (split_seed {tc.split_seed}); "
                    f"the other {n_sel} selected the epoch"
                )
        else:
            test = sel
            out["test"] = sel.metrics
        save_per_user(self.run_dir / PER_USER_FILE, test, best_epoch)
        out["per_user"] = PER_USER_FILE
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(out, indent=2) + "\n")
        return out


def train(
    cfg: RunConfig,
    ds: Dataset | None = None,
    resume: bool = False,
    progress: bool = True,
    run_dir: str | Path | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train one run (see :class:`Trainer`)."""
    return Trainer(cfg, ds, run_dir=run_dir, progress=progress).fit(resume=resume, overwrite=overwrite)


# ----------------------------------------------------------------------------- per-user test metrics
PER_USER_FILE = "test_per_user.npz"


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


def write_per_user(run_dir: str | Path, ds: Dataset | None = None, device: str = "cpu") -> dict[str, Any]:
    """Write ``test_per_user.npz`` of an existing run from its ``best.pt`` (the selected epoch):
    the test split evaluated as :meth:`Trainer.finish` does. Returns ``{"path", "epoch",
    "max_abs_diff"}``, the last being the largest difference between the recomputed means and
    metrics.json's test metrics (0 up to float rounding on the same kind of machine)."""
    from .runs import load_run

    run_dir = Path(run_dir)
    mpath = run_dir / "metrics.json"
    if not mpath.exists():
        raise FileNotFoundError(f"{mpath} not found: not a finished run")
    metrics = json.loads(mpath.read_text())
    cfg, ds, model = load_run(run_dir, ds=ds, device=device)
    tc = cfg.train
    heldout, exclude = protocol_splits(tc.protocol).masks(ds, "test")
    dev = torch.device(device)
    with torch.no_grad():
        res = evaluate(model.score_fn(), heldout, exclude, ks=tc.ks, batch_size=tc.eval_batch_size, device=dev)
    ck = find_checkpoint(run_dir, "best.pt")
    epoch = torch.load(ck, map_location="cpu", weights_only=False).get("epoch") if ck else None
    path = save_per_user(run_dir / PER_USER_FILE, res, epoch)
    diff = max((abs(res.metrics[k] - v) for k, v in metrics.get("test", {}).items() if k in res.metrics), default=0.0)
    return {"path": str(path), "epoch": epoch, "max_abs_diff": float(diff)}


class RerunMismatch(ValueError):
    """A rerun that is not the same run as the one it should give its per-user metrics to."""


def per_user_from_rerun(run_dir: str | Path, rerun_dir: str | Path, ndcg_tol: float = 1e-6) -> dict[str, Any]:
    """Give a finished run whose checkpoint is gone the ``test_per_user.npz`` of a rerun of it.

    The rerun must be the same run: the same configuration (but the settings a resume may change
    and the name), the same seed, selected epoch and stop reason, and the same test recall, precision
    and hit rate at every k to the last digit; NDCG may differ by up to ``ndcg_tol`` (the float
    rounding of code that computes the same loss in another order moves a few hits inside a
    user's top k). Anything else raises :class:`RerunMismatch` naming it, and nothing is written.
    The file is copied and ``PER_USER_FROM_RERUN.md`` says where it comes from, with the table of
    differences; the run's ``metrics.json`` is not touched. Returns ``{"path", "note",
    "differences"}`` (differences: metric -> (run, rerun) for the values that differ)."""
    import yaml

    run_dir, rerun_dir = Path(run_dir), Path(rerun_dir)
    if (run_dir / PER_USER_FILE).exists():
        raise RerunMismatch(f"{run_dir / PER_USER_FILE} exists already; nothing was changed")
    loaded = {}
    for d in (run_dir, rerun_dir):
        for f in ("config.yaml", "metrics.json"):
            if not (d / f).is_file():
                raise FileNotFoundError(f"{d / f} not found: {d} is not a finished run")
        loaded[d] = (yaml.safe_load((d / "config.yaml").read_text()), json.loads((d / "metrics.json").read_text()))
    if not (rerun_dir / PER_USER_FILE).is_file():
        raise FileNotFoundError(f"{rerun_dir / PER_USER_FILE} not found: the rerun has no per-user metrics")
    (cfg_a, m_a), (cfg_b, m_b) = loaded[run_dir], loaded[rerun_dir]
    problems = [f"config: {d}" for d in config_differences(cfg_a, cfg_b, ("in the run", "in the rerun"))]
    for key in ("seed", "split_seed", "selected_epoch"):
        if m_a.get(key) != m_b.get(key):
            problems.append(f"{key}: {m_a.get(key)!r} in the run, {m_b.get(key)!r} in the rerun")
    if m_a.get("stop_reason") != m_b.get("stop_reason"):  # e.g. a rerun cut by its time limit
        problems.append(f"stop_reason: {m_a.get('stop_reason')!r} in the run, {m_b.get('stop_reason')!r} in the rerun")
    test_a, test_b = m_a.get("test", {}), m_b.get("test", {})
    if set(test_a) != set(test_b):
        problems.append(f"test metrics: {sorted(test_a)} in the run, {sorted(test_b)} in the rerun")
    differences = {k: (test_a[k], test_b[k]) for k in sorted(set(test_a) & set(test_b)) if test_a[k] != test_b[k]}
    for k, (a, b) in differences.items():
        if not k.startswith("ndcg@") or abs(a - b) > ndcg_tol:
            problems.append(f"test {k}: {a!r} in the run, {b!r} in the rerun (allowed: NDCG within {ndcg_tol:g})")
    if problems:
        raise RerunMismatch(
            f"{rerun_dir} is not the same run as {run_dir}; nothing was written:\n  " + "\n  ".join(problems)
        )
    per_user = load_per_user(rerun_dir)
    for k, v in test_b.items():  # the file is the rerun's own: its means are the rerun's metrics
        if k in per_user and abs(float(np.mean(per_user[k], dtype=np.float64)) - v) > 1e-5:
            raise RerunMismatch(f"{rerun_dir / PER_USER_FILE}: mean {k} does not match the rerun's metrics.json")
    atomic_write_bytes(run_dir / PER_USER_FILE, (rerun_dir / PER_USER_FILE).read_bytes())
    commit = str(m_b.get("git_commit", "unknown"))[:7]
    head = (
        f"`{PER_USER_FILE}` comes from a rerun of this run (same configuration and seed, commit {commit}, "
        f"finished {m_b.get('finished_at', '?')}; this run was trained at commit "
        f"{str(m_a.get('git_commit', 'unknown'))[:7]}): the run's own checkpoint was gone. The rerun selected the "
        f"same epoch ({m_b.get('selected_epoch')} of {m_b.get('epochs_run')}, this run {m_a.get('selected_epoch')} "
        f"of {m_a.get('epochs_run')})"
    )
    if not differences:
        note = (
            head
            + " and gave exactly the same test metrics (every value of `metrics.json`'s `test`, to the last digit), so its per-user metrics are this run's.\n"
        )
    else:
        rows = "".join(f"| {k} | {a:.10f} | {b:.10f} | {b - a:+.1e} |\n" for k, (a, b) in differences.items())
        note = (
            head + " and the same test recall, precision and hit rate at every k, to the last digit; the NDCG "
            f"values differ by at most {max(abs(b - a) for a, b in differences.values()):.1e} (the order of a "
            "few hits inside a user's top k changed):\n\n| test metric | this run | rerun | rerun - this run |\n"
            "|---|---|---|---|\n" + rows + "\nSo its per-user metrics stand for this run's: their means match this "
            "run's recall (the over-users tests' metric) to the last digit. The run's `metrics.json` is unchanged.\n"
        )
    atomic_write_text(run_dir / "PER_USER_FROM_RERUN.md", note)
    return {"path": str(run_dir / PER_USER_FILE), "note": note, "differences": differences}
