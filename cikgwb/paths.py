"""Where things are: the project folder, the reports root, the runs folder, the checkpoint root
and the data folder. Every module asks these functions (read at call time, so a changed
environment variable counts); none keeps its own copy of a default.

=====================  ===============================================================
``project_root()``     ``$CIKGWB_ROOT``, else the nearest folder at or above the current one
                       holding ``notebooks/01_data.ipynb``, else the folder above the package
                       (editable install), else the current folder
``reports_root()``     ``$CIKGWB_REPORTS_DIR`` (a relative path is taken from the project
                       root), else ``<project>/reports``
``runs_root()``        ``<reports root>/runs`` (``reports/runs/<run>/``: :mod:`cikgwb.train`)
``committed_runs_root()``  ``<project>/reports/runs``, the runs committed with the repository
``interest_graph_dir()``  ``<reports root>/interests/<dataset>/graphs/<answers>-<encoder>-...``
``checkpoint_root()``  ``$CIKGWB_CHECKPOINT_DIR``, else ``$XDG_CACHE_HOME/cikgwb/checkpoints``,
                       else ``~/.cache/cikgwb/checkpoints`` (outside the work tree)
``data_dir()``         ``$CIKGWB_DATA_DIR``, else ``<project>/data`` (from any folder of the
                       project, as the notebooks and ``make`` have it)
=====================  ===============================================================

``environment(settings)`` sets environment variables for a ``with`` block and restores them after
(the batch jobs' settings, the notebook kernels' folders).

This module imports nothing of the package at import time: it is the bottom layer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT_ENV = "CIKGWB_ROOT"
REPORTS_ENV = "CIKGWB_REPORTS_DIR"
CHECKPOINT_ENV = "CIKGWB_CHECKPOINT_DIR"
DATA_ENV = "CIKGWB_DATA_DIR"
# the first notebook: a folder holding it is the project folder
_MARKER = Path("notebooks") / "01_data.ipynb"


@contextmanager
def environment(settings: Mapping[str, str]) -> Iterator[None]:
    """``settings`` set in ``os.environ`` inside the block; each restored afterwards (removed where
    it was unset)."""
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def project_root() -> Path:
    """The project folder (module docstring)."""
    env = _env(ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / _MARKER).exists():
            return p
    pkg_parent = Path(__file__).resolve().parent.parent
    if (pkg_parent / "notebooks").is_dir():
        return pkg_parent
    return here


def reports_root(root: str | Path | None = None) -> Path:
    """``$CIKGWB_REPORTS_DIR`` (a relative path is taken from ``root``, default the project
    root) or ``<root>/reports``."""
    root = Path(root) if root is not None else project_root()
    env = _env(REPORTS_ENV)
    if env:
        p = Path(env).expanduser()
        return (p if p.is_absolute() else root / p).resolve()
    return root / "reports"


def runs_root(root: str | Path | None = None) -> Path:
    """``<reports root>/runs``: where ``cikgwb train`` writes ``<run>/`` and everything reads runs."""
    return reports_root(root) / "runs"


def relative_to_cwd(path: str | Path) -> Path:
    """``path`` relative to the current folder when it lies below it (``reports/runs/<run>`` as
    commands print and record it), else as it is."""
    p = Path(path)
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def committed_runs_root() -> Path:
    """``<project>/reports/runs``: the runs committed with the repository, whatever
    ``$CIKGWB_REPORTS_DIR`` says (the explorer lists them too; the campaign skips them)."""
    return project_root() / "reports" / "runs"


def interest_graph_dir(
    dataset: str, answers: str | Path, encoder: str, clusterer: str, kappa: int | None, seed: int
) -> Path:
    """``<reports root>/interests/<dataset>/graphs/<answers>-<encoder>-<clusterer>-k<kappa>-s<seed>``:
    where ``cikgwb interests cluster`` and notebook 03 write an interest graph (one rule). The
    answers tag: the folder of an ``answers.jsonl`` (its backend, e.g. ``kg-summary``), else the
    file's stem, else the name given (``planted``); a path encoder is named by its last part."""
    a = Path(answers)
    tag = a.parent.name if a.name == "answers.jsonl" else a.stem
    enc = encoder if encoder in ("tfidf", "minilm") else Path(encoder).name
    name = f"{tag}-{enc}-{clusterer}-k{kappa or 'auto'}-s{seed}"
    return reports_root() / "interests" / dataset / "graphs" / name


def checkpoint_root() -> Path:
    """``$CIKGWB_CHECKPOINT_DIR``, else ``$XDG_CACHE_HOME/cikgwb/checkpoints``, else
    ``~/.cache/cikgwb/checkpoints``: outside the work tree, shared by every clone of the
    repository on this machine."""
    env = _env(CHECKPOINT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    cache = _env("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "cikgwb" / "checkpoints"


def data_dir() -> Path:
    """The folder holding the datasets: ``$CIKGWB_DATA_DIR`` if set and non-empty (``~``
    expanded; a relative path counts from the current folder, as before), else
    ``<project_root()>/data``. The one rule: the data registry
    (:func:`cikgwb.data.registry.data_root`), the notebooks and the sweeps ask here."""
    env = _env(DATA_ENV)
    return Path(env).expanduser() if env else project_root() / "data"


__all__ = [
    "CHECKPOINT_ENV",
    "DATA_ENV",
    "REPORTS_ENV",
    "ROOT_ENV",
    "checkpoint_root",
    "committed_runs_root",
    "data_dir",
    "interest_graph_dir",
    "project_root",
    "relative_to_cwd",
    "reports_root",
    "runs_root",
]
