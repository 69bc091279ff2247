"""``cikgwb sweep``: run a training config (or a notebook) over a parameter grid, several runs at
a time, and collect the results into one table that ``09_sensitivity`` draws (Figure 5).

Grid. ``--grid NAME=v1,v2,...`` (repeatable). Names are config keys (``mask_alpha``,
``gcl_weight``, ... see :mod:`cikgwb.config`) or the paper's symbols, mapped by
:data:`ALIASES` (``alpha`` -> ``mask_alpha``, ``omega`` -> ``mask_omega``, ``lambda2`` ->
``interest_recon_weight``, ``lambda3`` -> ``gcl_weight``, ``tau`` -> ``gcl_temp``, ...).
Modes: ``each`` (default; as the paper's Figure 5) varies one parameter at a time with the
others at their base values (the dataset's default config plus ``--set``); ``grid`` runs the
cartesian product. Every point runs once per seed.

Execution. Each point x seed is one process, ``python -m cikgwb train ...`` (or papermill on a
notebook, with the grid's names as notebook parameters), at most ``--jobs`` at a time, each with
``--threads`` torch/OMP threads. A run whose ``metrics.json`` exists is reused unless
``--no-resume``. Everything goes under ``reports/sweeps/<name>/``::

    sweep.json     the spec: dataset, model, protocol, seeds, mode, grid, base values, command
    results.csv    one row per point x seed: parameter values (config names), seed, status,
                   seconds, selected epoch, device, test/valid metrics
    runs/<run>/    the runs (config.yaml, history.jsonl, metrics.json); for a notebook: the
                   executed notebook, what it recorded (metrics.json) and its own reports
                   folder (the notebook runs with CIKGWB_REPORTS_DIR set there)
    logs/<run>.log each process's output
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ALIASES = {
    "alpha": "mask_alpha", "omega": "mask_omega", "Lambda": "mask_lambda", "lambda1": "cf_weight",
    "lambda2": "interest_recon_weight", "lambda3": "gcl_weight", "l1": "cf_weight",
    "l2": "interest_recon_weight", "l3": "gcl_weight", "tau": "gcl_temp", "eta": "sce_eta",
    "layers": "n_layers", "dim": "dim", "eps": "noise_eps",
}
SYMBOLS = {"mask_alpha": "alpha (start mask rate)", "mask_omega": "omega (mask-rate cap)",
           "mask_lambda": "Lambda (schedule length)", "cf_weight": "lambda1 (BPR weight)",
           "interest_recon_weight": "lambda2 (reconstruction weight)", "gcl_weight": "lambda3 (contrast weight)",
           "gcl_temp": "tau (temperature)", "sce_eta": "eta (SCE exponent)", "n_layers": "layers"}
METRICS = ("recall@20", "ndcg@20", "recall@50", "ndcg@50", "recall@100", "ndcg@100")
MODES = ("each", "grid")


def canonical(name: str) -> str:
    """Config key of a grid name (an alias or the key itself)."""
    return ALIASES.get(name, name)


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["alpha=0.05,0.1", "lambda3=0.01"]`` -> ``{"alpha": [0.05, 0.1], "lambda3": [0.01]}``
    (values parsed as YAML scalars: numbers, booleans, strings)."""
    import yaml

    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid {item!r}: expected NAME=v1,v2,...")
        k, vals = item.split("=", 1)
        k = k.strip()
        values = [yaml.safe_load(v.strip()) for v in vals.split(",") if v.strip()]
        if not k or not values:
            raise ValueError(f"--grid {item!r}: expected a name and at least one value")
        if k in grid:
            raise ValueError(f"--grid {k!r} given twice")
        grid[k] = values
    return grid


@dataclass
class SweepSpec:
    """What to sweep; see the module docstring."""

    name: str
    grid: dict[str, list[Any]]
    mode: str = "each"
    dataset: str = "synthetic"
    model: str = "cikgrec"
    protocol: str = "valid"
    seeds: list[int] = field(default_factory=lambda: [0])
    base: dict[str, Any] = field(default_factory=dict)     # --set overrides for every point
    interests: str = "paper"
    notebook: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r}: expected one of {MODES}")
        if not self.grid:
            raise ValueError("the grid is empty: give at least one --grid NAME=v1,v2,...")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise ValueError(f"sweep name {self.name!r}: use letters, digits and ._+- only")
        if not self.notebook:
            from .config import _MODEL_KEYS, _TRAIN_KEYS
            for k in self.grid:
                if canonical(k) not in _MODEL_KEYS | _TRAIN_KEYS:
                    raise ValueError(f"--grid {k!r}: not a setting; expected a config key "
                                     f"({sorted(_MODEL_KEYS | _TRAIN_KEYS)}) or an alias ({sorted(ALIASES)})")

    @property
    def keys(self) -> list[str]:
        """Grid names as run parameters: config keys for training sweeps, as given for notebooks."""
        return list(self.grid) if self.notebook else [canonical(k) for k in self.grid]

    def base_values(self) -> dict[str, Any]:
        """Value of each swept key when it is not the one varied: the dataset's default config
        with ``base`` applied (training sweeps); for notebooks the first value of its list."""
        if self.notebook:
            return {k: v[0] for k, v in self.grid.items()}
        from .config import apply_overrides, default_config
        cfg = apply_overrides(default_config(self.dataset, self.model), {k: str(v) for k, v in self.base.items()})
        out = {}
        for k in self.keys:
            out[k] = getattr(cfg.model, k) if hasattr(cfg.model, k) else getattr(cfg.train, k)
        return out

    def points(self) -> list[dict[str, Any]]:
        """Every distinct assignment of all swept keys (module docstring)."""
        values = [list(v) for v in self.grid.values()]
        keys = self.keys
        if self.mode == "grid":
            pts = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
        else:
            base = self.base_values()
            pts = []
            for k, vals in zip(keys, values):
                for v in vals:
                    pts.append({**base, k: v})
        seen, out = set(), []
        for p in pts:
            key = tuple((k, _fmt(v)) for k, v in p.items())
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out

    def run_name(self, point: dict[str, Any], seed: int) -> str:
        short = {v: k for k, v in ALIASES.items() if k in ("alpha", "omega", "Lambda", "lambda1", "lambda2",
                                                           "lambda3", "tau", "eta")}
        parts = [f"{short.get(k, k)}{_fmt(v)}" for k, v in point.items()]
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", "-".join(parts)) + f"-s{seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- running
def _train_cmd(spec: SweepSpec, point: dict[str, Any], seed: int, name: str) -> list[str]:
    cmd = [sys.executable, "-m", "cikgwb", "train", "--dataset", spec.dataset, "--model", spec.model,
           "--protocol", spec.protocol, "--interests", spec.interests, "--seeds", str(seed),
           "--name", name.rsplit("-s", 1)[0], "--quiet"]
    for k, v in {**spec.base, **point}.items():
        cmd += ["--set", f"{k}={_fmt(v)}"]
    return cmd


def _notebook_cmd(spec: SweepSpec, point: dict[str, Any], seed: int, run_dir: Path) -> list[str]:
    import yaml

    base = {k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in spec.base.items()}  # --set: YAML values
    params = {"dataset": spec.dataset, "seeds": [seed], **base, **point,
              "sweep_record": str(run_dir / "metrics.json")}
    code = ("import json,sys,papermill as pm; p=json.loads(sys.argv[3]); "
            "d=pm.inspect_notebook(sys.argv[1]); "
            "pm.execute_notebook(sys.argv[1], sys.argv[2], parameters={k: v for k, v in p.items() if k in d}, "
            "progress_bar=False, cwd=str(__import__('pathlib').Path(sys.argv[1]).parent))")
    return [sys.executable, "-c", code, str(Path(spec.notebook).resolve()), str(run_dir / "notebook.ipynb"),
            json.dumps(params, default=str)]


def _row(spec: SweepSpec, point: dict[str, Any], seed: int, run_dir: Path, status: str, seconds: float,
         log_path: Path) -> dict[str, Any]:
    row: dict[str, Any] = {**point, "seed": seed, "status": status, "seconds": round(seconds, 1),
                           "run": run_dir.name, "log": str(log_path)}
    mpath = run_dir / "metrics.json"
    if mpath.exists():
        m = json.loads(mpath.read_text())
        if spec.notebook:   # whatever the notebook recorded: flat scalars, or test/valid dicts
            for k, v in m.items():
                if isinstance(v, dict):
                    row.update({f"{k} {kk}": vv for kk, vv in v.items() if not isinstance(vv, (dict, list))})
                elif not isinstance(v, list):
                    row[k] = v
        else:
            row.update({"selected_epoch": m.get("selected_epoch"), "stop_reason": m.get("stop_reason"),
                        "device": m.get("device"), "wall_seconds": m.get("wall_seconds")})
            for split in ("test", "valid"):
                for k in METRICS:
                    if k in m.get(split, {}):
                        row[f"{split} {k}"] = m[split][k]
    elif status == "ok":
        row["status"] = "failed: no metrics.json written"
    return row


def run_sweep(spec: SweepSpec, out_root: str | Path | None = None, jobs: int = 2, threads: int | None = None,
              resume: bool = True, timeout: float | None = None, keep_checkpoints: bool = False,
              log: Any = print) -> pd.DataFrame:
    """Run every point x seed of ``spec`` (at most ``jobs`` processes at a time) and write
    ``sweep.json`` and ``results.csv`` under ``out_root/<name>`` (default
    ``<reports>/sweeps``). Returns the results table; failed runs are rows with their status
    and log path (the sweep itself does not raise for them). The checkpoints of finished runs
    are deleted unless ``keep_checkpoints`` (a sweep needs only their metrics)."""
    from .notebooks import project_root, reports_dir

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    root = project_root()
    out_root = Path(out_root) if out_root is not None else reports_dir(root) / "sweeps"
    sweep_dir = (out_root if out_root.is_absolute() else root / out_root) / spec.name
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    points = spec.points()
    tasks = [(p, int(s)) for p in points for s in spec.seeds]
    meta = {**spec.to_dict(), "keys": spec.keys, "base_values": spec.base_values(), "n_points": len(points),
            "n_runs": len(tasks), "jobs": jobs, "threads": threads,
            "command": " ".join(sys.argv) if sys.argv and sys.argv[0].endswith("cikgwb") else None,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (sweep_dir / "sweep.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "CIKGWB_REPORTS_DIR": str(sweep_dir), "CIKGWB_ROOT": str(root), "PYTHONUNBUFFERED": "1"}
    env.setdefault("CIKGWB_DATA_DIR", str(root / "data"))
    log(f"sweep {spec.name}: {len(points)} points x {len(spec.seeds)} seed(s) = {len(tasks)} runs, "
        f"{jobs} at a time, {threads} thread(s) each -> {sweep_dir}")

    def one(task: tuple[dict[str, Any], int]) -> dict[str, Any]:
        point, seed = task
        name = spec.run_name(point, seed)
        run_dir = sweep_dir / "runs" / name
        log_path = sweep_dir / "logs" / f"{name}.log"
        if resume and (run_dir / "metrics.json").exists():
            return _row(spec, point, seed, run_dir, "reused", 0.0, log_path)
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = _notebook_cmd(spec, point, seed, run_dir) if spec.notebook else _train_cmd(spec, point, seed, name)
        t0 = time.time()
        with open(log_path, "w") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                # a notebook gets a reports folder of its own (its runs, figures), a training run
                # writes <sweep>/runs/<name>/
                run_env = {**env, "CIKGWB_REPORTS_DIR": str(run_dir)} if spec.notebook else env
                rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=run_env, cwd=str(root),
                                    timeout=timeout).returncode
                status = "ok" if rc == 0 else f"failed: exit {rc}"
            except subprocess.TimeoutExpired:
                status = f"failed: timeout after {timeout} s"
        row = _row(spec, point, seed, run_dir, status, time.time() - t0, log_path)
        if row["status"] == "ok" and not keep_checkpoints:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        log(f"  {name}: {row['status']} in {row['seconds']:.0f} s"
            + (f", test R@50 {row['test recall@50']:.4f}" if "test recall@50" in row else ""))
        return row

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(one, tasks))
    df = pd.DataFrame(rows)
    df.to_csv(sweep_dir / "results.csv", index=False)
    meta["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta["failed"] = int((~df["status"].isin(["ok", "reused"])).sum())
    (sweep_dir / "sweep.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    log(f"results: {sweep_dir / 'results.csv'} ({len(df)} rows, {meta['failed']} failed)")
    return df


def load_sweep(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(results, spec)`` of a sweep folder (``results.csv`` and ``sweep.json``)."""
    path = Path(path)
    for f in ("results.csv", "sweep.json"):
        if not (path / f).exists():
            raise FileNotFoundError(f"{path / f} not found: not a finished sweep folder (run `cikgwb sweep`)")
    return pd.read_csv(path / "results.csv"), json.loads((path / "sweep.json").read_text())


def sensitivity_frames(results: pd.DataFrame, spec: dict[str, Any], metrics: tuple[str, ...] = ("recall@50", "ndcg@50"),
                       split: str = "test") -> dict[str, pd.DataFrame]:
    """Per swept key, its values with the mean and std over seeds of ``metrics``, the other keys
    held at their base values (where a grid lacks a base value, averaged over the others;
    ``attrs["note"]`` says so). Failed runs are left out."""
    ok = results[results["status"].isin(["ok", "reused"])] if "status" in results else results
    keys, base = list(spec["keys"]), dict(spec["base_values"])
    out: dict[str, pd.DataFrame] = {}
    for k in keys:
        d = ok
        notes = []
        for other in keys:
            if other == k:
                continue
            col = d[other].map(_fmt)
            if _fmt(base[other]) in set(col):
                d = d[col == _fmt(base[other])]
            else:
                notes.append(f"averaged over {other}")
        cols = {m: f"{split} {m}" for m in metrics if f"{split} {m}" in d}
        if not cols:
            continue
        g = d.groupby(k)[list(cols.values())].agg(["mean", "std", "count"])
        frame = pd.DataFrame({k: g.index})
        for m, c in cols.items():
            frame[m] = g[(c, "mean")].to_numpy()
            frame[f"{m} std"] = g[(c, "std")].fillna(0.0).to_numpy()
            frame["seeds"] = g[(c, "count")].to_numpy()
        frame.attrs["note"] = "; ".join(notes)
        out[k] = frame
    return out


# ----------------------------------------------------------------------------- CLI
def _cli(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    base: dict[str, Any] = {}
    for item in args.set or []:
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: expected key=value")
        k, v = item.split("=", 1)
        base[k.strip()] = v.strip()
    try:
        grid = parse_grid(args.grid or [])
        seeds = [int(s) for s in str(args.seeds).split(",")]
        name = args.name or f"{args.dataset}-{args.model}-{'-'.join(grid)}-{args.mode}"
        spec = SweepSpec(name=name, grid=grid, mode=args.mode, dataset=args.dataset, model=args.model,
                         protocol=args.protocol, seeds=seeds, base=base, interests=args.interests,
                         notebook=args.notebook)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    df = run_sweep(spec, out_root=args.out, jobs=args.jobs, threads=args.threads, resume=not args.no_resume,
                   timeout=args.timeout, keep_checkpoints=args.keep_checkpoints)
    show = [c for c in [*spec.keys, "seed", "status", "selected_epoch", "test recall@50", "test ndcg@50"] if c in df]
    print(tabulate(df[show], headers="keys", showindex=False, floatfmt=".4f"))
    return 0 if (df["status"].isin(["ok", "reused"])).all() else 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``cikgwb sweep`` (module docstring)."""
    p = subparsers.add_parser("sweep", help="run a training config or a notebook over a parameter grid",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", action="append", metavar="NAME=v1,v2,...", required=True,
                   help="a swept parameter (repeatable); paper symbols alpha, omega, lambda1-3, tau allowed")
    p.add_argument("--mode", choices=MODES, default="each", help="each: one at a time (default); grid: product")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--model", default="cikgrec")
    p.add_argument("--protocol", choices=["valid", "authors"], default="valid")
    p.add_argument("--interests", default="paper")
    p.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting for every run (repeatable)")
    p.add_argument("--notebook", default=None, help="sweep a notebook (papermill) instead of a training config")
    p.add_argument("--name", default=None, help="folder name under reports/sweeps")
    p.add_argument("--out", default=None, help="parent folder (default reports/sweeps)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs at a time")
    p.add_argument("--threads", type=int, default=None, help="threads per run (default cores / jobs)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per run")
    p.add_argument("--no-resume", action="store_true", help="rerun points that already have results")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints (deleted by default)")
    p.set_defaults(func=_cli)
    return p
