"""The trainer: seeded sampling, epochs, selection every ``eval_every`` epochs, early stopping,
checkpoints and resume, per-epoch history written as it goes, test evaluated once at the
selected epoch. It trains one resolved run (:func:`cikgwb.run_spec.prepare_run`) into one run
folder (:mod:`cikgwb.run_folder`: the files, where the checkpoints are, ``status``); making a run
from a config is :func:`cikgwb.runs.run`, above it.

Checkpoints (``last.pt`` and ``best.pt``: model, optimisers, RNG states, the history so far) are
written every ``checkpoint_every`` epochs and at the last epoch of a call (``best.pt`` whenever
the selection score improves), outside the work tree (:func:`cikgwb.run_folder.checkpoint_dir`).

A run folder holding a finished run (``metrics.json``) is never touched by a new run: a new
attempt refuses (:class:`~cikgwb.run_folder.RunExistsError`) unless it resumes (``resume=True``)
or overwrites (``overwrite=True``); even then nothing in the folder changes until the model is
built and training is about to start.

``protocol="valid"`` (the default) selects on the validation split and evaluates test once.
``protocol="users"`` trains on all of train.txt, selects on the test items of a seeded half of the
test users (``sel_half`` in the history and metrics.json) and evaluates the other half once
(``test``, and ``test_per_user.npz``: the report half only).
``protocol="authors"`` trains on all of train.txt and selects on TEST, as the authors' code
does: its figures are for comparison with the paper's Table 1 only and are labelled so.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .atomic import DiskFull, atomic_write_bytes, atomic_write_text, remove_stale_temps
from .config import RunConfig
from .data.dataset import Dataset
from .evaluate import evaluate
from .locks import release as release_lock
from .paths import relative_to_cwd, runs_root
from .provenance import git_commit, machine_info
from .run_folder import (
    CHECKPOINT_FILES,
    CHECKPOINTS_FILE,
    CLOSED_FORM_STOP,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    PER_USER_FILE,
    RunExistsError,
    check_run_dir,
    checkpoint_candidates,
    checkpoint_dir,
    checkpoints_record,
    default_checkpoint_dir,
    find_checkpoint,
    finished_run,
    read_history,
    run_lock,
    save_per_user,
    staging_dir,
    write_json,
)
from .run_spec import PROTOCOL_NOTES, interest_source_used, prepare_run, protocol_splits
from .sampling import PairSampler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


# ----------------------------------------------------------------------------- checkpoints
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


def config_differences(
    saved: dict[str, Any], now: dict[str, Any], names: tuple[str, str] = ("in the checkpoint", "now")
) -> list[str]:
    """The settings of a checkpoint's config (``saved``) that differ from ``now`` (a
    ``config.yaml`` dict), but those a resumed run may change; both are read in the model's own
    form first (:func:`cikgwb.models.config_from_dict`), so like is compared with like. A
    checkpoint written before issue 19 (its model settings in the old flat form, with ``extra``)
    is one difference: this code does not resume it."""
    if "extra" in (saved.get("model") or {}):
        return [f"model: the old flat settings (before issue 19) {names[0]}, the model's own {names[1]}"]
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
        write_json(self.run_dir / CHECKPOINTS_FILE, checkpoints_record(self.run_dir, self.ckpt_dir), indent=1)

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
        new = {name: (staging / name).read_bytes() for name in (HISTORY_FILE, CONFIG_FILE, PER_USER_FILE)}
        new[CHECKPOINTS_FILE] = (json.dumps(checkpoints_record(final, final_ckpt), indent=1) + "\n").encode()
        new[METRICS_FILE] = (json.dumps(metrics, indent=2) + "\n").encode()  # last
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
        (final / METRICS_FILE).unlink(missing_ok=True)
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
        check_run_dir(self.run_dir, resume=resume, overwrite=overwrite)
        model, opt, gen = self._build()
        start_epoch, best, bad, best_epoch = 0, -math.inf, 0, -1
        # a closed-form model has nothing to resume: it is fitted again (the same result)
        last = find_checkpoint(self.run_dir, "last.pt") if resume and opt is not None else None
        kept: list[str] | None = None
        self._calls: list[dict[str, Any]] = []
        if last is not None:
            (start_epoch, best, bad, best_epoch), kept = self._resume(last, model, opt, gen)
        else:
            self.ckpt_dir = default_checkpoint_dir(self.run_dir)
        self._open_folder(kept, start_epoch)
        if opt is None:
            return self._fit_closed_form(model, gen)
        return self._train_epochs(model, opt, gen, (start_epoch, best, bad, best_epoch), stop_after_epochs)

    def _resume(self, last: Path, model, opt, gen) -> tuple[tuple[int, float, int, int], list[str]]:
        """Load ``last.pt`` into the model, optimisers and RNGs (refused where its settings differ
        from this run's); returns ``(start_epoch, best, bad, best_epoch)`` and the history lines of
        the checkpointed epochs (the checkpoint's own copy, else the file's)."""
        ck = torch.load(last, map_location=self.device, weights_only=False)
        diffs = config_differences(ck.get("config", {}), self.cfg.to_dict())
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
        start_epoch = ck["epoch"] + 1
        self._calls = list(ck.get("calls", []))
        self.ckpt_dir = last.parent
        if "history" in ck:
            kept = [json.dumps(r) for r in ck["history"] if r["epoch"] < start_epoch]
        else:
            hist_path = self.run_dir / HISTORY_FILE
            lines = hist_path.read_text().splitlines() if hist_path.exists() else []
            kept = [ln for ln in lines if ln.strip() and json.loads(ln)["epoch"] < start_epoch]
        return (start_epoch, ck["best_score"], ck["bad_epochs"], ck["best_epoch"]), kept

    def _open_folder(self, kept: list[str] | None, start_epoch: int) -> None:
        """From here on the run folder changes: the history (``kept`` lines of a resumed run, else
        empty, with an older run's metrics and checkpoints removed), ``config.yaml``,
        ``checkpoints.json`` and this call's record."""
        tc, hist_path = self.cfg.train, self.run_dir / HISTORY_FILE
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        if kept is not None:
            atomic_write_text(hist_path, "".join(ln + "\n" for ln in kept))
        else:
            atomic_write_text(hist_path, "")
            for p in (self.run_dir / METRICS_FILE, self.run_dir / PER_USER_FILE):
                p.unlink(missing_ok=True)
            for name in CHECKPOINT_FILES:  # a new run: no checkpoint of an older one may be found
                for d in checkpoint_candidates(self.run_dir):
                    (d / name).unlink(missing_ok=True)
        self.cfg.save(self.run_dir / CONFIG_FILE)
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

    def _epoch(self, model, opt, sampler: PairSampler, gen, epoch: int, last: Path) -> dict[str, Any]:
        """One epoch of the main objective over the sampler's batches, then the model's second
        phase (:meth:`~cikgwb.models.base.Recommender.after_epoch`): the history line so far (mean
        loss terms, epoch info). A non-finite loss stops the run (:class:`TrainingDiverged`)."""
        name = self.cfg.name
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
                f"{name}: loss became {rec['loss']} at epoch {epoch} "
                f"({ {k: v for k, v in rec.items() if k.startswith('loss')} }); stopped. The last good "
                f"checkpoint is kept at {last} (epoch {epoch - 1}); lower the learning rate or the loss "
                "weights and resume or restart."
            )
        rec.update(model.after_epoch(epoch, gen))
        rec.update(model.epoch_info(epoch))
        if any(not math.isfinite(v) for k, v in rec.items() if k.startswith("loss")):
            raise TrainingDiverged(
                f"{name}: non-finite loss at epoch {epoch}: {rec}; the last good checkpoint is kept at {last}"
            )
        return rec

    def _train_epochs(self, model, opt, gen, state: tuple[int, float, int, int], stop_after_epochs: int | None):
        """The epochs of this call from ``state`` (``start_epoch, best, bad, best_epoch``) to early
        stop, ``max_epochs``, ``max_minutes`` or ``stop_after_epochs``; then :meth:`finish`."""
        cfg, tc = self.cfg, self.cfg.train
        start_epoch, best, bad, best_epoch = state
        hist_path, last = self.run_dir / HISTORY_FILE, self.ckpt_dir / "last.pt"
        sampler = PairSampler(self.train_pairs, self.ds.n_items, tc.batch_size, self.device)
        t_start = time.time()
        status, stop_reason = "max-epochs", f"max_epochs={tc.max_epochs} reached (not early-stopped)"
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
            rec = self._epoch(model, opt, sampler, gen, epoch, last)
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
            bar.set_postfix(
                loss=f"{rec.get('loss', 0):.4f}", score=f"{rec.get('score', float('nan')):.4f}", best=best_epoch
            )
            epochs_this_call += 1
            stop = None
            if bad >= tc.patience and epoch + 1 >= tc.floor_epochs(best_epoch):
                stop = (
                    "early-stopped",
                    (
                        f"early stop: no improvement of {'+'.join(tc.selection)} on {self.sel_split} "
                        f"for {tc.patience} evaluations"
                    ),
                )
            elif tc.max_minutes is not None and (time.time() - t_start) / 60 >= tc.max_minutes:
                stop = "time-limit", f"time limit: max_minutes={tc.max_minutes} reached (not converged)"
            interrupted = stop is None and stop_after_epochs is not None and epochs_this_call >= stop_after_epochs
            # last.pt every checkpoint_every epochs, and at the last epoch of this call (resume starts there)
            if stop or interrupted or epoch + 1 == tc.max_epochs or (epoch + 1) % tc.checkpoint_every == 0:
                self._checkpoint(last, model, opt, gen, epoch, best, bad, best_epoch)
            if stop:
                status, stop_reason = stop
                break
            if interrupted:
                bar.close()
                return TrainResult(self.run_dir, {"interrupted_at_epoch": epoch}, self.history())
        bar.close()
        metrics = self.finish(model, best_epoch, stop_reason, time.time() - t_start, status)
        return TrainResult(self.run_dir, metrics, self.history())

    def _fit_closed_form(self, model, gen) -> TrainResult:
        """A closed-form model (:func:`is_closed_form`) is fitted once from the training pairs
        and evaluated once on the selection split: one history line (epoch 0; ``epoch_seconds``
        is the fit), ``best.pt`` and ``last.pt`` (no tensor in them: the model refits when it is
        reloaded), then :meth:`finish` as for a trained run, with :data:`CLOSED_FORM_STOP` and
        this one selection result (the model is the selected one: nothing to reload or evaluate again)."""
        t0 = time.time()
        rec: dict[str, Any] = {"epoch": 0, "epoch_seconds": model.fit()}
        res = self._evaluate(model, self.sel_heldout, self.sel_exclude)
        rec.update({f"{self.sel_split}_{k}": v for k, v in res.metrics.items()})
        rec.update(score=res.score(self.cfg.train.selection), eval_seconds=res.seconds)
        atomic_write_text(self.run_dir / HISTORY_FILE, json.dumps(rec) + "\n")
        self._calls[-1]["end_epoch"] = 0
        for name in CHECKPOINT_FILES:
            self._checkpoint(self.ckpt_dir / name, model, None, gen, 0, rec["score"], 0, 0)
        metrics = self.finish(model, 0, CLOSED_FORM_STOP, time.time() - t0, "closed-form", sel=res)
        return TrainResult(self.run_dir, metrics, self.history())

    def history(self) -> list[dict[str, Any]]:
        return read_history(self.run_dir)

    def finish(
        self, model, best_epoch: int, stop_reason: str, wall: float, status: str, sel: Any = None
    ) -> dict[str, Any]:
        """Reload the selected epoch; evaluate the selection split and, under the valid protocol, test once.

        ``sel``: the selection split's result of ``model`` as it stands, when it is the selected
        one already (a closed-form model, evaluated once by :meth:`_fit_closed_form`): it is
        neither reloaded nor evaluated on the selection split again."""
        if sel is None:
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
            "status": status,
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
            "cut": status != "early-stopped",
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
        write_json(self.run_dir / METRICS_FILE, out)
        return out
