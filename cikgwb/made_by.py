"""What made each committed figure and table, and whether it is older than what it reads.

``reports/figures/<tag>/MADE_BY.json`` (and ``MADE_BY.md``, the same for reading) hold, per
notebook, the command that remakes its figures, its parameters, status, date, commit, machine, the
files it wrote and, for the paper's notebooks (06-09), its **inputs**: every run folder (or
sweep) it reads, each with a fingerprint of the files it reads there (:func:`notebook_inputs`).

:func:`stale` compares those recorded inputs with what the notebook would read now, counting
only committed files where a list of them is given (``git ls-files``): a
run added, removed or changed since the figure was drawn names the figure as stale, with the
command that remakes it (``make reports``). The comparison is of content, not of file times
(git keeps none), so it gives the same answer on every clean clone.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the per-user test metrics of a run, first found first: Figure 3's cache ``sparsity_groups.csv``
#: counts only where it is the only source (elsewhere it is made from one of the others)
PER_USER = ("test_per_user.npz", "explorer.npz", "sparsity_groups.csv")
#: per paper notebook, the files of each run folder it reads (a change to one of them changes its figures)
RUN_FILES: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "06_results": ("metrics.json", "config.yaml", "test_per_user.npz"),
    "07_sparsity": ("metrics.json", "config.yaml", PER_USER),
    "08_case_study": ("metrics.json", "explorer.npz"),
}
SWEEP_FILES = ("results.csv",)
REMAKE = "make reports"


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(folder: Path, files: tuple[str | tuple[str, ...], ...], counts: Callable[[Path], bool]) -> str | None:
    """sha256 (16 hex digits) over ``files`` of ``folder`` that exist and ``counts`` accepts (a file
    left out is marked absent; a tuple of names: the first that is there); None when none is there."""
    parts = []
    for names in files:
        there = [
            n for n in ((names,) if isinstance(names, str) else names) if (folder / n).is_file() and counts(folder / n)
        ]
        parts.append(f"{there[0]}:{_sha(folder / there[0])}" if there else f"{names}:-")
    if all(p.endswith(":-") for p in parts):
        return None
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- what each notebook reads
def _runs_root(params: dict[str, Any], reports: Path) -> Path:
    return Path(params["runs_dir"]) if params.get("runs_dir") else reports / "runs"


def _run_folders(name: str, dataset: str, params: dict[str, Any], reports: Path) -> list[Path]:
    """The run folders notebook ``name`` reads with ``params`` (the selection the notebook makes)."""
    from .runs import find_runs, run_index

    root = _runs_root(params, reports)
    if name == "06_results":  # every finished run: the tables list every dataset
        return sorted({p.parent for p in root.rglob("metrics.json")}) if root.is_dir() else []
    index = run_index(root, skip_unreadable=True)
    if name == "07_sparsity":
        sel = find_runs(
            index,
            dataset=dataset,
            protocol=params.get("protocol", "valid"),
            variant=("full", "-"),
            model=params.get("models"),
        )
    elif params.get("run"):
        return [Path(params["run"])]
    else:  # 08: every candidate; which one it draws depends on the artefacts (their presence is in the print)
        sel = find_runs(
            index, dataset=dataset, model="cikgrec", variant="full", protocol=params.get("protocol", "valid")
        )
    return sorted(Path(p) for p in sel["path"]) if len(sel) else []


def _sweep_folder(dataset: str, quick: bool, params: dict[str, Any], reports: Path) -> Path:
    name = f"{dataset}-sensitivity-quick" if quick else f"{dataset}-figure5"
    return Path(params["sweep"]) if params.get("sweep") else reports / "sweeps" / name


def notebook_inputs(
    name: str, dataset: str, quick: bool, params: dict[str, Any], reports: Path, committed: set[str] | None = None
) -> dict[str, str] | None:
    """``{folder relative to reports: fingerprint}`` of what the paper notebook ``name`` reads (None for
    another notebook). ``committed``: paths relative to ``reports`` that git holds; only those count."""

    def counts(p: Path) -> bool:
        if committed is None:
            return True
        try:
            return p.resolve().relative_to(reports.resolve()).as_posix() in committed
        except ValueError:
            return False

    def key(p: Path) -> str:
        try:
            return p.resolve().relative_to(reports.resolve()).as_posix()
        except ValueError:
            return str(p)

    if name == "09_sensitivity":
        folder = _sweep_folder(dataset, quick, params, reports)
        fp = fingerprint(folder, SWEEP_FILES, counts)
        return {key(folder): fp} if fp else {}
    if name not in RUN_FILES:
        return None
    found = {key(f): fingerprint(f, RUN_FILES[name], counts) for f in _run_folders(name, dataset, params, reports)}
    return {k: v for k, v in sorted(found.items()) if v and counts(reports / k / "metrics.json")}


def stale(reports: Path, tag: str, committed: set[str] | None = None) -> list[str]:
    """One line per paper notebook of ``reports/figures/<tag>/MADE_BY.json`` whose recorded inputs
    differ from what it would read now (``committed``: count only these files); [] when none."""
    path = reports / "figures" / tag / "MADE_BY.json"
    made = json.loads(path.read_text()) if path.exists() else {}
    lines = []
    for name, entry in made.items():
        params = {**entry.get("parameters", {})}
        dataset, quick = params.pop("dataset", tag), bool(params.pop("quick", False))
        now = notebook_inputs(name, dataset, quick, params, reports, committed)
        if now is None:
            continue
        then = entry.get("inputs")
        if then is None:
            lines.append(f"{tag}/{name}: MADE_BY records no inputs (drawn before they were recorded); run `{REMAKE}`")
            continue
        changed = sorted(k for k in set(now) & set(then) if now[k] != then[k])
        added, gone = sorted(set(now) - set(then)), sorted(set(then) - set(now))
        if changed or added or gone:
            what = "; ".join(
                f"{label}: {', '.join(ks[:4])}{f' and {len(ks) - 4} more' if len(ks) > 4 else ''}"
                for label, ks in (("changed", changed), ("new", added), ("gone", gone))
                if ks
            )
            lines.append(f"{tag}/{name} is older than what it reads ({what}); run `{REMAKE}` and commit it")
    return lines


# ----------------------------------------------------------------------------- the record
def record(reports: Path, tag: str, rec: dict[str, Any], started: float, *, quick: bool, dataset: str) -> None:
    """Write notebook ``rec["notebook"]``'s entry into ``<reports>/figures/<tag>/MADE_BY.json`` and
    ``.md``: the command, parameters, status, date, commit, machine, the figure and table files this
    run wrote (mtime at or after ``started``) and its inputs (entries of other notebooks are kept)."""
    from .provenance import cpu_model, git_commit

    name = rec["notebook"]
    files = sorted(
        str(f.relative_to(reports))
        for sub in ("figures", "tables")
        for f in (reports / sub / tag).glob(f"{name}_*")
        if f.stat().st_mtime >= started - 1
    )
    params = {k: v for k, v in rec["parameters"].items() if k not in ("dataset", "quick")}
    extra = [f"-p {k}={json.dumps(v)}" for k, v in params.items()]
    command = [
        "cikgwb notebooks",
        f"--dataset {dataset}",
        f"--only {name.split('_')[0]}",
        *([] if quick else ["--full"]),
    ]
    entry = {
        "command": " ".join([*command, *extra]),
        "parameters": {"dataset": dataset, "quick": bool(quick), **params},
        "status": rec["status"],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": rec["seconds"],
        # dirty only for uncommitted code: regenerated figures do not make their own provenance dirty
        "git_commit": git_commit(paths=("cikgwb", "notebooks", "scripts")),
        "machine": f"{cpu_model()} x{os.cpu_count()} ({platform.node()})",
        "files": files,
    }
    inputs = notebook_inputs(name, dataset, quick, params, reports)
    if inputs is not None:
        entry["inputs"] = inputs
    folder = reports / "figures" / tag
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "MADE_BY.json"
    made = json.loads(path.read_text()) if path.exists() else {}
    made[name] = entry
    made = dict(sorted(made.items()))
    path.write_text(json.dumps(made, indent=1) + "\n")
    (folder / "MADE_BY.md").write_text(_markdown(made, tag, folder.relative_to(reports)))


def _markdown(made: dict[str, Any], tag: str, folder: Path) -> str:
    lines = [
        f"# What made the figures and tables of `{tag}`",
        "",
        f"Written by `cikgwb notebooks` after each notebook (`{folder}/MADE_BY.json` is the same as JSON, with a "
        "fingerprint of every run or sweep a figure reads: `tests/test_made_by.py` fails when a committed run "
        f"changed since, and `{REMAKE}` redraws). Each figure's title says its dataset, protocol, seeds and device; "
        "the runs behind it name their own commands in `reports/runs/<run>/metrics.json`.",
        "",
    ]
    for nb, e in made.items():
        inputs = e.get("inputs")
        lines += [
            f"## {nb}",
            "",
            f"- command: `{e['command']}`",
            f"- status: {e['status']}; finished {e['finished_at']} in {e['seconds']} s; commit {e['git_commit']}",
            f"- machine: {e['machine']}",
            *(
                []
                if inputs is None
                else [
                    f"- reads: {len(inputs)} "
                    + ("folder" if len(inputs) == 1 else "folders")
                    + (
                        f" ({', '.join(f'`{k}`' for k in list(inputs)[:3])}"
                        + (", ..." if len(inputs) > 3 else "")
                        + ")"
                        if inputs
                        else ""
                    )
                ]
            ),
            "- files: " + (", ".join(f"`{f}`" for f in e["files"]) or "none"),
            "",
        ]
    return "\n".join(lines)
