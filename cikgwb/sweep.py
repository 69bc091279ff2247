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
``--no-resume``; ``--collect`` starts nothing and tabulates the runs already finished (trained
elsewhere with the same settings and run names), a ``missing`` row for each other point.
``--preset figure5`` is the paper's Figure 5 grid (:data:`cikgwb.paper.FIGURE5_GRID`).
``--preset grid`` is the model's own grid (``Config.GRID``: EASE, ItemKNN, GF-CF in
:mod:`cikgwb.models.simple`), every combination, in ``reports/sweeps/<dataset>-<model>-<protocol>``.

Choosing a point. ``--select`` then takes, per seed, the point with the best selection score on
the protocol's selection split (valid, or the ``users`` protocol's selection half; never test,
so ``authors`` is refused) and trains it again as the model's ordinary run in ``reports/runs/``
with ``grid_selection.json`` beside it (:func:`land_choice`); ``selection.csv`` lists the
choices. ``--split-seed-is-seed`` gives run seed ``i`` ``split_seed=i`` (the users protocol's
pairing). Everything goes under ``reports/sweeps/<name>/``::

    sweep.json     the spec: dataset, model, protocol, seeds, mode, grid, base values, command
    results.csv    one row per point x seed: parameter values (config names), seed, status,
                   seconds, selected epoch, device, test/valid metrics
    runs/<run>/    the runs (config.yaml, history.jsonl, metrics.json); for a notebook: the
                   executed notebook, what it recorded (metrics.json) and its own reports
                   folder (the notebook runs with CIKGWB_REPORTS_DIR set there)
    logs/<run>.log each process's output

Executors. ``--executor local`` (default): the thread pool above. ``--executor batch``: every
run, one after another, in ONE process (``python -m cikgwb.batch``: the models imported and each
dataset loaded once), for runs of seconds such as the simple baselines' grids. ``--executor ray``: each point
x seed is one Ray task reserving ``num_cpus=--threads`` (default 1) and, where the cluster has
GPUs, ``num_gpus=--gpus-per-run`` (default 1; ``0.25`` packs four runs on a card); the task runs
the same command, so the layout, ``results.csv`` and the resume rule are the same. Without
``--address`` a local Ray cluster of this machine's cores is started on 127.0.0.1 (and stopped
at the end); ``--address auto|HOST:PORT|ray://HOST:PORT`` joins an existing cluster, whose
workers must see the project and the sweep folder at the same paths as the driver (a shared
filesystem) and the data under ``$CIKGWB_DATA_DIR``. An address that is not a Ray cluster is
refused in seconds (it must answer as a gRPC server does). **Tokens**: ``ray start --head`` turns
Ray's token authentication on by itself where ``~/.ray/auth_token`` exists (a local cluster,
such as the tests', writes that file), and Ray then sends its token to an explicit address only
under ``RAY_AUTH_MODE=token``: set ``RAY_AUTH_MODE=token`` (the head's token in
``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``) to join such a head; a
refused join says so in its one line (:func:`ray_auth_hint`). A task whose worker dies is retried
(``--max-retries``, default 2) and the run continues from its last checkpoint (set
``CIKGWB_CHECKPOINT_DIR`` to a shared folder for retries on another node); a point that still
fails is a ``failed: ...`` row with its log, and the sweep goes on. A tqdm bar in the driver
counts finished runs.
"""

from __future__ import annotations

import itertools
import json
import logging
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

from .paper import FIGURE5_GRID
from .run_folder import GRID_SELECTION_FILE
from .run_spec import protocol_splits, run_name, split_run_name

ALIASES = {
    "alpha": "mask_alpha",
    "omega": "mask_omega",
    "Lambda": "mask_lambda",
    "lambda1": "cf_weight",
    "lambda2": "interest_recon_weight",
    "lambda3": "gcl_weight",
    "l1": "cf_weight",
    "l2": "interest_recon_weight",
    "l3": "gcl_weight",
    "tau": "gcl_temp",
    "eta": "sce_eta",
    "layers": "n_layers",
    "dim": "dim",
    "eps": "noise_eps",
}
SYMBOLS = {
    "mask_alpha": "alpha (start mask rate)",
    "mask_omega": "omega (mask-rate cap)",
    "mask_lambda": "Lambda (schedule length)",
    "cf_weight": "lambda1 (BPR weight)",
    "interest_recon_weight": "lambda2 (reconstruction weight)",
    "gcl_weight": "lambda3 (contrast weight)",
    "gcl_temp": "tau (temperature)",
    "sce_eta": "eta (SCE exponent)",
    "n_layers": "layers",
}
METRICS = ("recall@20", "ndcg@20", "recall@50", "ndcg@50", "recall@100", "ndcg@100")
MODES = ("each", "grid")
#: named grids (``--preset``)
PRESETS = {"figure5": FIGURE5_GRID}


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


def _check_value(name: str, value: Any, model: str = "cikgrec") -> None:
    """Reject a grid value whose type does not fit the setting of ``model`` (e.g. ``alpha=abc``,
    ``n_layers=1.5``, ``no_cl=maybe``) before any run starts."""
    from .config import TrainConfig
    from .models import model_entry

    mcls = model_entry(model).config
    key = mcls.canonical(canonical(name)) or canonical(name)
    defaults = {
        **{k: getattr(mcls(), k) for k in mcls.setting_names()},
        **{k: getattr(TrainConfig(), k) for k in vars(TrainConfig())},
    }
    cur = defaults.get(key)
    if isinstance(cur, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(cur, int):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(cur, float) or (cur is None and key == "max_minutes"):
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(cur, str):
        ok, want = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ValueError(f"--grid {name}={value!r}: {key} takes {want}, got {type(value).__name__} {value!r}")


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
    base: dict[str, Any] = field(default_factory=dict)  # --set overrides for every point
    interests: str = "paper"
    notebook: str | None = None
    split_seed_is_seed: bool = False  # each run gets split_seed = its seed (the users protocol's pairing)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r}: expected one of {MODES}")
        if self.split_seed_is_seed and "split_seed" in {**self.base, **self.grid}:
            raise ValueError("--split-seed-is-seed sets each run's split_seed to its seed: do not also give split_seed")
        if not self.grid:
            raise ValueError("the grid is empty: give at least one --grid NAME=v1,v2,... (or --preset)")
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", self.name):
            raise ValueError(f"sweep name {self.name!r}: use letters, digits and ._+- only")
        if not self.notebook:
            from .config import _TRAIN_KEYS
            from .models import model_entry

            mcls = model_entry(self.model).config  # an unknown model: named, with the known ones
            known = sorted(set(mcls.setting_names()) | _TRAIN_KEYS)
            for k in self.grid:
                if mcls.canonical(canonical(k)) is None and canonical(k) not in _TRAIN_KEYS:
                    raise ValueError(
                        f"--grid {k!r}: not a setting of {self.model}; expected one of its config "
                        f"keys ({known}) or an alias ({sorted(ALIASES)})"
                    )
                for v in self.grid[k]:
                    _check_value(k, v, self.model)

    @property
    def keys(self) -> list[str]:
        """Grid names as run parameters: config keys for training sweeps, as given for notebooks."""
        return list(self.grid) if self.notebook else [canonical(k) for k in self.grid]

    def base_values(self) -> dict[str, Any]:
        """Value of each swept key when it is not the one varied: the dataset's default config
        with ``base`` applied (training sweeps); for notebooks the first value of its list."""
        if self.notebook:
            return {k: v[0] for k, v in self.grid.items()}
        from .config import apply_overrides
        from .models import default_config

        cfg = apply_overrides(default_config(self.dataset, self.model), {k: str(v) for k, v in self.base.items()})
        out = {}
        for k in self.keys:
            field = type(cfg.model).canonical(k)
            out[k] = getattr(cfg.model, field) if field is not None else getattr(cfg.train, k)
        return out

    def validate(self) -> None:
        """Build every point's config (the dataset's defaults, ``base``, the point) so that a bad
        setting or value fails here, naming it, before any run starts."""
        if self.notebook:
            return
        for point in self.points():
            try:
                self.config(point, self.seeds[0] if self.seeds else 0)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"sweep {self.name}: point {point}: {exc}") from exc

    def config(self, point: dict[str, Any], seed: int, name: str | None = None) -> Any:
        """The validated, resolved run config of one point x seed: the model's defaults on the
        dataset, ``base``, the point, ``split_seed`` (with ``split_seed_is_seed``), the interest
        source, protocol and seed, checked once. Its worker gets it as a ``config.yaml``."""
        from .config import apply_overrides
        from .models import make_config
        from .run_spec import resolve_config

        cfg = make_config(self.model, self.dataset, validate=False)
        sets = {**{k: str(v) for k, v in self.base.items()}, **{k: _fmt(v) for k, v in point.items()}}
        if self.split_seed_is_seed:
            sets["split_seed"] = str(int(seed))
        apply_overrides(cfg, {**sets, "interests": self.interests, "protocol": self.protocol, "seed": int(seed)})
        cfg.name = name
        return resolve_config(cfg)  # a missing interest graph is refused here, naming it

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
        short = {
            v: k
            for k, v in ALIASES.items()
            if k in ("alpha", "omega", "Lambda", "lambda1", "lambda2", "lambda3", "tau", "eta")
        }
        parts = [f"{short.get(k, k)}{_fmt(v)}" for k, v in point.items()]
        return run_name(re.sub(r"[^A-Za-z0-9_.+-]", "_", "-".join(parts)), seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- running
def _train_args(spec: SweepSpec, point: dict[str, Any], seed: int | None = None) -> list[str]:
    """The ``cikgwb train`` settings of one point (dataset, model, protocol, interests, --set) and,
    with ``split_seed_is_seed``, ``split_seed`` = the run's ``seed``."""
    args = [
        "--dataset",
        spec.dataset,
        "--model",
        spec.model,
        "--protocol",
        spec.protocol,
        "--interests",
        spec.interests,
    ]
    for k, v in {**spec.base, **point}.items():
        args += ["--set", f"{k}={_fmt(v)}"]
    if spec.split_seed_is_seed and seed is not None:
        args += ["--set", f"split_seed={int(seed)}"]
    return args


def _train_cmd(cfg: Any, cfg_file: Path, resume: bool = True) -> list[str]:
    """``cikgwb train`` of one resolved run config, written to ``cfg_file`` (the worker reads
    it: nothing is rebuilt from a command line). ``--resume``: a run cut short (a killed worker,
    a time-out) continues from its last checkpoint; without a checkpoint it starts afresh.
    ``--overwrite`` (sweep --no-resume): train again."""
    cfg.save(cfg_file)
    mode = "--resume" if resume else "--overwrite"
    return [sys.executable, "-m", "cikgwb", "train", "--config", str(cfg_file), "--quiet", mode]


def queue_lines(spec: SweepSpec) -> list[str]:
    """The sweep's runs as a campaign queue (``scripts/campaign.py``: ``NAME SEED ARGS...``), for
    single-thread lanes that train into the sweep folder (``--reports-dir <sweeps>/<name>``);
    ``cikgwb sweep ... --collect`` then tabulates them."""
    import shlex

    if spec.notebook:
        raise ValueError("--queue: a notebook sweep has no training runs to queue")
    return [
        f"{split_run_name(spec.run_name(p, s))[0]} {s} {shlex.join(_train_args(spec, p, s))}"
        for p in spec.points()
        for s in spec.seeds
    ]


def _notebook_cmd(spec: SweepSpec, point: dict[str, Any], seed: int, run_dir: Path) -> list[str]:
    import yaml

    base = {k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in spec.base.items()}  # --set: YAML values
    params = {"dataset": spec.dataset, "seeds": [seed], **base, **point, "sweep_record": str(run_dir / "metrics.json")}
    code = (
        "import json,sys,papermill as pm; p=json.loads(sys.argv[3]); "
        "d=pm.inspect_notebook(sys.argv[1]); "
        "pm.execute_notebook(sys.argv[1], sys.argv[2], parameters={k: v for k, v in p.items() if k in d}, "
        "progress_bar=False, cwd=str(__import__('pathlib').Path(sys.argv[1]).parent))"
    )
    return [
        sys.executable,
        "-c",
        code,
        str(Path(spec.notebook).resolve()),
        str(run_dir / "notebook.ipynb"),
        json.dumps(params, default=str),
    ]


def _row(
    spec: SweepSpec, point: dict[str, Any], seed: int, run_dir: Path, status: str, seconds: float, log_path: Path
) -> dict[str, Any]:
    row: dict[str, Any] = {
        **point,
        "seed": seed,
        "status": status,
        "seconds": round(seconds, 1),
        "run": run_dir.name,
        "log": str(log_path.relative_to(run_dir.parent.parent)),  # logs/<run>.log, inside the sweep folder
    }
    mpath = run_dir / "metrics.json"
    if mpath.exists():
        m = json.loads(mpath.read_text())
        if spec.notebook:  # whatever the notebook recorded: flat scalars, or test/valid dicts
            for k, v in m.items():
                if isinstance(v, dict):
                    row.update({f"{k} {kk}": vv for kk, vv in v.items() if not isinstance(vv, (dict, list))})
                elif not isinstance(v, list):
                    row[k] = v
        else:
            row.update(
                {
                    "selected_epoch": m.get("selected_epoch"),
                    "stop_reason": m.get("stop_reason"),
                    "device": m.get("device"),
                    "wall_seconds": m.get("wall_seconds"),
                }
            )
            for split in ("test", "valid", "sel_half"):  # sel_half: the users protocol's selection split
                for k in METRICS:
                    if k in m.get(split, {}):
                        row[f"{split} {k}"] = m[split][k]
    elif status == "ok":
        row["status"] = "failed: no metrics.json written"
    return row


def _popen_kwargs(die_with_parent: bool) -> dict[str, Any]:
    """A child that dies with its parent (Linux): when a Ray worker is killed its run stops too,
    so that the retried task alone writes the run."""
    if not die_with_parent or not sys.platform.startswith("linux"):
        return {}
    import ctypes
    import signal

    def _set_pdeathsig() -> None:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return {"preexec_fn": _set_pdeathsig}


def _exec(
    cmd: list[str],
    env: dict[str, str],
    cwd: str,
    log_path: str,
    timeout: float | None,
    cleanup_run_dir: str | None = None,
    append: bool = False,
    die_with_parent: bool = False,
) -> dict[str, Any]:
    """Run one point x seed: ``cmd`` with its output in ``log_path``; after a success, delete
    the run's checkpoints when ``cleanup_run_dir`` is given. Returns status, seconds, host.
    Runs in a driver thread (local executor) or in a Ray task (the Ray executor)."""
    import platform

    t0 = time.time()
    with open(log_path, "a" if append else "w") as fh:
        if append:
            fh.write(
                f"=== attempt on {platform.node()} (pid {os.getpid()}) at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
            )
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        try:
            rc = subprocess.run(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                timeout=timeout,
                **_popen_kwargs(die_with_parent),
            ).returncode
            status = "ok" if rc == 0 else f"failed: exit {rc}"
        except subprocess.TimeoutExpired:
            status = f"failed: timeout after {timeout} s"
    if status == "ok" and cleanup_run_dir:
        _remove_checkpoints(cleanup_run_dir)
    return {"status": status, "seconds": time.time() - t0, "host": platform.node()}


def _remove_checkpoints(run_dir: str | Path) -> None:
    """Delete a finished run's checkpoints (a sweep needs only its metrics)."""
    from .run_folder import checkpoint_dir

    run_dir = Path(run_dir)
    if (run_dir / "metrics.json").exists():
        for d in {checkpoint_dir(run_dir), run_dir / "checkpoints"}:
            shutil.rmtree(d, ignore_errors=True)


def _run_batch(jobs: list[dict[str, Any]], env: dict[str, str], log_path: str) -> list[dict[str, Any]]:
    """``--executor batch``: the ``cikgwb`` commands of ``jobs`` (:func:`_exec`'s arguments) one
    after another in ONE process (:mod:`cikgwb.batch`), which imports the models and loads each
    dataset once: for runs of seconds, such as the simple baselines'. Each job's output goes to its
    own log, the batch's to ``log_path``; returns one result per job, as :func:`_exec` does."""
    if not jobs:
        return []
    spec_file = Path(log_path).with_suffix(".json")
    spec_file.write_text(
        json.dumps(
            [
                {
                    "argv": j["cmd"][3:],  # after python -m cikgwb
                    "env": {k: v for k, v in j["env"].items() if k.startswith("CIKGWB_")},
                    "log_path": j["log_path"],
                }
                for j in jobs
            ]
        )
    )
    done: dict[int, dict[str, Any]] = {}
    with open(log_path, "w") as fh:
        cmd = [sys.executable, "-m", "cikgwb.batch", str(spec_file)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=fh, env=env, cwd=jobs[0]["cwd"], text=True)
        for line in proc.stdout or []:
            rec = json.loads(line)
            done[rec["index"]] = rec
            if rec["status"] == "ok" and jobs[rec["index"]].get("cleanup_run_dir"):
                _remove_checkpoints(jobs[rec["index"]]["cleanup_run_dir"])
        proc.wait()
    lost = {"status": f"failed: the batch process ended (exit {proc.returncode}) before this run; see {log_path}"}
    return [done.get(i, {**lost, "seconds": 0.0}) for i in range(len(jobs))]


#: the HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, the Ray
#: client server) answers with a SETTINGS frame of its own at once
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_grpc(host: str, port: int, timeout: float = 5.0) -> bool:
    """Whether the server at ``host:port`` answers an HTTP/2 preface with a SETTINGS frame (what
    every gRPC server does, Ray's among them): an address that is not Ray fails here in seconds."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_H2_PREFACE)
        head = b""
        try:
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError:  # no answer in time, or the connection reset
            return False
    return len(head) == 9 and head[3] == 4  # frame type 4: SETTINGS


def _ray_address_check(address: str) -> None:
    """One clear line, within seconds, when ``HOST:PORT`` / ``ray://HOST:PORT`` cannot be reached
    or is not a Ray cluster (:func:`_speaks_grpc`; skipped where Ray uses TLS, ``RAY_USE_TLS``)."""
    import socket

    if address == "auto":
        return
    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?(?::(\d+))?/?", address.strip())
    if not m:
        raise ValueError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    host, port = m.group(1), int(m.group(2) or (10001 if address.startswith("ray://") else 6379))
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise RuntimeError(f"--address {address}: no Ray cluster reachable at {host}:{port} ({exc})") from None
    if os.environ.get("RAY_USE_TLS", "0").lower() not in ("1", "true") and not _speaks_grpc(host, port):
        raise RuntimeError(
            f"--address {address}: {host}:{port} accepts connections but is not a Ray cluster (no gRPC answer "
            "in 5 s); give the head's GCS address (ray start --head prints it, port 6379 by default) or "
            "ray://HOST:10001"
        )


def ray_auth_hint(log: str = "") -> str | None:
    """Why joining ``--address`` failed where it is Ray's token authentication (``RAY_AUTH_MODE``,
    ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``), from Ray's own log of the
    attempt (``log``) and the token settings of this process; None where it is not. Ray sends its
    token only under ``RAY_AUTH_MODE=token`` when it joins an explicit address, while ``ray start
    --head`` turns token authentication on by itself where ``~/.ray/auth_token`` exists (and a
    local cluster of the tests writes that file)."""
    mode = (os.environ.get("RAY_AUTH_MODE") or "").lower()
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()
    has_token = bool(os.environ.get("RAY_AUTH_TOKEN")) or token_file.is_file()
    said = re.search(r"unauthenticated|authenticat|auth[ _]token", log, re.IGNORECASE) is not None
    setting = "RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token"
    if mode == "token":
        return f"the cluster refused this machine's Ray token: use the head's token ({setting})" if said else None
    if said or has_token:
        how = "the cluster asks for a Ray token" if said else f"probably token authentication ({token_file} exists)"
        return (
            f"{how}, and Ray sends none to an explicit --address unless RAY_AUTH_MODE=token: set "
            f"RAY_AUTH_MODE=token (the head's token from {setting})"
        )
    return None


def ray_connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray: an already initialised Ray (e.g. a test's local cluster), the cluster at
    ``address`` (auto | HOST:PORT | ray://HOST:PORT), or, without one, a new local cluster of
    ``num_cpus`` (default this machine's cores) on 127.0.0.1. Returns True where this call
    started Ray (the caller shuts it down)."""
    if address:
        _ray_address_check(address)  # before importing Ray (seconds): an unreachable address fails fast
        # something that accepts the connection but is no Ray cluster: give up after ~10 s (Ray's
        # default is ~20 s of retries, each logged), quietly
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "6")
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--executor ray needs Ray: pip install 'cikgwb[ray]' (ray[default]==2.60.0)") from exc
    if ray.is_initialized():
        return False
    if address:
        import tempfile

        # Ray's C++ client logs every failed attempt on fd 2: kept aside, shown only on failure with -v
        saved, buf = os.dup(2), tempfile.TemporaryFile()
        os.dup2(buf.fileno(), 2)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError from Ray
            os.dup2(saved, 2)
            buf.seek(0)
            log = buf.read().decode(errors="replace")
            logging.getLogger(__name__).debug("ray.init(%s):\n%s", address, log)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = ray_auth_hint(f"{log}\n{exc}")
            raise RuntimeError(
                f"--address {address}: could not join the Ray cluster ({first})" + (f": {hint}" if hint else "")
            ) from None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.close()
        return True
    # A local cluster on the loopback interface only: Ray replaces 127.0.0.1 by the machine's
    # address unless it runs in its single-machine mode (the one it uses on macOS / Windows).
    # Its dashboard agent runs in the minimal mode (no metrics export), which starts in a few
    # seconds where the full one can miss the raylet's fixed 15 s wait on a loaded machine.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray._private.utils as ray_utils
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
        ray_utils.get_dashboard_dependency_error = lambda: "cikgwb: a local cluster without the dashboard"
    except (ImportError, AttributeError):  # pragma: no cover - another Ray version
        pass
    for attempt in range(3):
        try:
            ray.init(
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
            return True
        except Exception as exc:
            # on a loaded machine the raylet can give up waiting for its agents (a fixed 15 s in
            # Ray; ray-project/ray#65983): start again, then give up with one line
            ray.shutdown()
            if "timed out during startup" not in str(exc) or attempt == 2:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise RuntimeError(f"could not start a local Ray cluster ({first})") from None
    return True


def ray_map(
    jobs: list[dict[str, Any]],
    threads: int = 1,
    gpus_per_run: float | None = None,
    max_retries: int = 2,
    address: str | None = None,
    desc: str = "runs",
    on_done: Any = None,
) -> list[dict[str, Any]]:
    """Run :func:`_exec` for every ``jobs`` entry (its keyword arguments) as one Ray task each,
    ``num_cpus=threads`` and, where the cluster has GPUs, ``num_gpus=gpus_per_run`` (default 1);
    a task whose worker dies is retried ``max_retries`` times. Returns one result per job, in
    order; a job that still fails gets ``{"status": "failed: ..."}``. ``on_done(i, result)`` is
    called as each finishes (a tqdm bar over the jobs is shown)."""
    from tqdm.auto import tqdm

    started = ray_connect(address)
    import ray

    try:
        has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        opts: dict[str, Any] = {"num_cpus": threads, "max_retries": max_retries, "retry_exceptions": False}
        if has_gpu:
            opts["num_gpus"] = 1.0 if gpus_per_run is None else gpus_per_run
        remote = ray.remote(_exec).options(**opts)
        refs = {}
        for i, job in enumerate(jobs):
            refs[remote.remote(**{**job, "append": True, "die_with_parent": True})] = i
        out: list[dict[str, Any]] = [{} for _ in jobs]
        pending = list(refs)
        with tqdm(total=len(jobs), desc=desc, unit="run") as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    i = refs[ref]
                    try:
                        res = ray.get(ref)
                    except Exception as exc:  # WorkerCrashedError after the retries, a task error
                        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        res = {
                            "status": f"failed: {type(exc).__name__} after {max_retries} retries: {first}"[:300],
                            "seconds": 0.0,
                        }
                    out[i] = res
                    if on_done is not None:
                        on_done(i, res)
                    bar.update(1)
        return out
    finally:
        if started:
            ray.shutdown()


def _task_env(base: dict[str, str], threads: int) -> dict[str, str]:
    """What a run's process needs from the driver: the CIKGWB_* settings, PYTHONPATH, threads."""
    keep = {k: v for k, v in base.items() if k.startswith("CIKGWB_") or k in ("PYTHONPATH", "HF_HOME")}
    return {
        **os.environ,
        **keep,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }


def sweep_folder(name: str, out_root: str | Path | None = None) -> Path:
    """``<out_root>/<name>`` (a relative ``out_root`` counts from the project; default ``<reports>/sweeps``)."""
    from .paths import project_root, reports_root

    root = project_root()
    out_root = Path(out_root) if out_root is not None else reports_root(root) / "sweeps"
    return (out_root if out_root.is_absolute() else root / out_root) / name


def run_sweep(
    spec: SweepSpec,
    out_root: str | Path | None = None,
    jobs: int = 2,
    threads: int | None = None,
    resume: bool = True,
    timeout: float | None = None,
    keep_checkpoints: bool = False,
    log: Any = print,
    executor: str = "local",
    address: str | None = None,
    gpus_per_run: float | None = None,
    max_retries: int = 2,
    collect_only: bool = False,
) -> pd.DataFrame:
    """Run every point x seed of ``spec`` (at most ``jobs`` processes at a time, or one Ray task
    each with ``executor="ray"``: module docstring) and write ``sweep.json`` and ``results.csv``
    under ``out_root/<name>`` (default ``<reports>/sweeps``). Returns the results table; failed
    runs are rows with their status and log path (the sweep itself does not raise for them).
    The checkpoints of finished runs are deleted unless ``keep_checkpoints`` (a sweep needs only
    their metrics). Every point's settings are checked before any run starts; each training run's
    worker gets its point's validated config as a ``config.yaml`` (:meth:`SweepSpec.config`).

    ``collect_only``: start nothing; write ``results.csv`` from the runs already finished under
    ``<sweep>/runs/`` (made by an earlier sweep, or by ``cikgwb train --name <run>`` with the
    same settings, e.g. from a queue of single-thread lanes) and a ``missing`` row for every
    other point, so a figure can be drawn from what exists while the rest still runs."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if executor not in ("local", "ray", "batch"):
        raise ValueError(f"executor={executor!r}: expected local, ray or batch")
    if gpus_per_run is not None and not 0 < gpus_per_run <= 1 and gpus_per_run != int(gpus_per_run):
        raise ValueError(f"--gpus-per-run {gpus_per_run}: expected a fraction in (0, 1] or a whole number")
    spec.validate()
    sweep_dir = sweep_folder(spec.name, out_root)
    started_ray = False
    if executor == "ray" and not collect_only:
        threads = threads or 1
        started_ray = ray_connect(address)  # an unreachable --address fails here, before any folder is written
    else:
        threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    tasks = [(p, int(s)) for p in spec.points() for s in spec.seeds]
    ray_address = address if executor == "ray" else None
    settings = {"jobs": jobs, "threads": threads, "executor": executor, "address": ray_address}
    meta = _sweep_meta(spec, tasks, {**settings, "collect_only": collect_only})
    (sweep_dir / "sweep.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    env = _sweep_env(sweep_dir, threads)
    how = {"local": f"{jobs} at a time", "batch": "one after another in one process"}
    log(
        f"sweep {spec.name}: {meta['n_points']} points x {len(spec.seeds)} seed(s) = {len(tasks)} runs, "
        + how.get(executor, f"Ray tasks ({address or 'local cluster'})")
        + f", {threads} thread(s) each -> {sweep_dir}"
    )
    if collect_only:
        rows = [_row_of(spec, sweep_dir, t, None, log) for t in tasks]
        missing = sum(r["status"] == "missing" for r in rows)
        log(f"collected {len(rows) - missing} finished run(s); {missing} missing (not started here)")
    else:
        kw = {"resume": resume, "timeout": timeout, "keep_checkpoints": keep_checkpoints}
        specs = [_job(spec, sweep_dir, env, t, **kw) for t in tasks]
        ray_kw = {"gpus_per_run": gpus_per_run, "max_retries": max_retries, "address": address}
        try:
            results = _execute(executor, specs, tasks, spec, sweep_dir, env, jobs, threads, ray_kw)
        finally:
            if started_ray:
                import ray

                ray.shutdown()
        rows = [_row_of(spec, sweep_dir, t, results.get(i), log) for i, t in enumerate(tasks)]
    return _write_results(pd.DataFrame(rows), sweep_dir, meta, log)


def _sweep_meta(spec: SweepSpec, tasks: list[tuple[dict[str, Any], int]], settings: dict[str, Any]) -> dict[str, Any]:
    """What ``sweep.json`` records: the spec, its keys and base values, the execution settings, the command."""
    return {
        **spec.to_dict(),
        "keys": spec.keys,
        "base_values": spec.base_values(),
        "n_points": len(spec.points()),
        "n_runs": len(tasks),
        **settings,
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0].endswith("cikgwb") else None,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _sweep_env(sweep_dir: Path, threads: int) -> dict[str, str]:
    """The environment of a sweep's processes: threads, the sweep folder as reports root, the data."""
    from .paths import data_dir, project_root

    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "CIKGWB_REPORTS_DIR": str(sweep_dir),
        "CIKGWB_ROOT": str(project_root()),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("CIKGWB_DATA_DIR", str(data_dir()))
    return env


def _job(
    spec: SweepSpec,
    sweep_dir: Path,
    env: dict[str, str],
    task: tuple[dict[str, Any], int],
    resume: bool,
    timeout: float | None,
    keep_checkpoints: bool,
) -> dict[str, Any] | None:
    """One point x seed's keyword arguments for :func:`_exec`, or None where a finished run is reused."""
    point, seed = task
    name = spec.run_name(point, seed)
    run_dir = sweep_dir / "runs" / name
    if resume and (run_dir / "metrics.json").exists():
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    if spec.notebook:
        cmd = _notebook_cmd(spec, point, seed, run_dir)
    else:
        cmd = _train_cmd(spec.config(point, seed, name), sweep_dir / "logs" / f"{name}.config.yaml", resume)
    # a notebook gets a reports folder of its own (its runs, figures), a training run writes <sweep>/runs/<name>/
    return {
        "cmd": cmd,
        "env": {**env, "CIKGWB_REPORTS_DIR": str(run_dir)} if spec.notebook else env,
        "cwd": env["CIKGWB_ROOT"],
        "log_path": str(sweep_dir / "logs" / f"{name}.log"),
        "timeout": timeout,
        "cleanup_run_dir": None if keep_checkpoints or spec.notebook else str(run_dir),
    }


def _row_of(
    spec: SweepSpec, sweep_dir: Path, task: tuple[dict[str, Any], int], res: dict[str, Any] | None, log: Any
) -> dict[str, Any]:
    """The results.csv row of one point x seed (``res``: its :func:`_exec` result; None where not run here)."""
    point, seed = task
    name = spec.run_name(point, seed)
    run_dir, log_path = sweep_dir / "runs" / name, sweep_dir / "logs" / f"{name}.log"
    if res is None:  # not run here: finished before (reused), or, when only collecting, not yet
        status = "reused" if (run_dir / "metrics.json").exists() else "missing"
        return _row(spec, point, seed, run_dir, status, 0.0, log_path)
    row = _row(spec, point, seed, run_dir, res["status"], res.get("seconds", 0.0), log_path)
    log(
        f"  {name}: {row['status']} in {row['seconds']:.0f} s"
        + (f", test R@50 {row['test recall@50']:.4f}" if "test recall@50" in row else "")
    )
    return row


def _execute(
    executor: str,
    specs: list[dict[str, Any] | None],
    tasks: list[tuple[dict[str, Any], int]],
    spec: SweepSpec,
    sweep_dir: Path,
    env: dict[str, str],
    jobs: int,
    threads: int,
    ray_kw: dict[str, Any],
) -> dict[int, dict[str, Any]]:
    """Run the jobs (``specs``; None: reused) with ``executor``; their results by task index."""
    todo = [i for i, j in enumerate(specs) if j is not None]
    if executor == "local":
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return dict(zip(todo, pool.map(lambda i: _exec(**specs[i]), todo)))
    if executor == "batch":
        # the runs of one training matrix follow each other (they share parts of a fit,
        # :func:`cikgwb.models.simple.shared`): seed by seed where the seed's split_seed draws
        # the training pairs (valid), else point by point (users: every seed trains on train.txt)
        by_seed = spec.split_seed_is_seed and protocol_splits(spec.protocol).train == "train"
        todo.sort(key=lambda i: tasks[i][1] if by_seed else 0)
        return dict(zip(todo, _run_batch([specs[i] for i in todo], env, str(sweep_dir / "logs" / "batch.log"))))
    for i in todo:
        specs[i]["env"] = _task_env(specs[i]["env"], threads)
    if not todo:
        return {}
    results = ray_map([specs[i] for i in todo], threads=threads, desc=f"sweep {spec.name}", **ray_kw)
    return dict(zip(todo, results))


def _write_results(df: pd.DataFrame, sweep_dir: Path, meta: dict[str, Any], log: Any) -> pd.DataFrame:
    """Write ``results.csv`` and the finished ``sweep.json``; log the summary line."""
    df.to_csv(sweep_dir / "results.csv", index=False)
    meta["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta["missing"] = int((df["status"] == "missing").sum())
    meta["failed"] = int((~df["status"].isin(["ok", "reused", "missing"])).sum())
    (sweep_dir / "sweep.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    log(
        f"results: {sweep_dir / 'results.csv'} ({len(df)} rows, {meta['failed']} failed"
        + (f", {meta['missing']} missing" if meta["missing"] else "")
        + ")"
    )
    return df


# ----------------------------------------------------------------------------- choosing a grid point
def model_grid(model: str) -> dict[str, list[Any]]:
    """``--preset grid``: the grid ``model`` declares beside its settings (``Config.GRID``, e.g.
    the simple baselines of :mod:`cikgwb.models.simple`); an error names the models with one."""
    from .models import model_entry, model_names

    grid = dict(getattr(model_entry(model).config, "GRID", None) or {})
    if not grid:
        have = [m for m in model_names() if getattr(model_entry(m).config, "GRID", None)]
        raise ValueError(f"--preset grid: {model} declares no grid (Config.GRID); models with one: {have}")
    return grid


def selection_split(protocol: str) -> str:
    """The split a grid point is chosen on: the protocol's selection split, never the reported
    test (the ``authors`` protocol, which selects on test, is refused)."""
    splits = protocol_splits(protocol)
    if splits.select == splits.test:
        raise ValueError(
            f"--select: protocol {protocol} selects on its test split; choose a point under valid or users"
        )
    return splits.select


def selection_score(run_dir: Path, split: str) -> float | None:
    """A finished run's selection score: the sum of its ``selection`` metrics (its config.yaml)
    on ``split`` in its metrics.json; None where the run has not finished."""
    import yaml

    from .config import TrainConfig

    if not (run_dir / "metrics.json").exists():
        return None
    train = (yaml.safe_load((run_dir / "config.yaml").read_text()) or {}).get("train") or {}
    metrics = json.loads((run_dir / "metrics.json").read_text()).get(split) or {}
    chosen_by = list(train.get("selection") or TrainConfig().selection)
    return float(sum(metrics[k] for k in chosen_by)) if all(k in metrics for k in chosen_by) else None


def choose_point(spec: SweepSpec, sweep_dir: Path, seed: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``(best, scored)`` of one seed: every point's run and selection score (:func:`selection_score`
    on :func:`selection_split`), and the one with the largest score (ties: the first in grid
    order), None where no run of the seed has finished. No test metric is read."""
    split = selection_split(spec.protocol)
    scored = []
    for point in spec.points():
        name = spec.run_name(point, seed)
        scored.append({"point": point, "run": name, "score": selection_score(sweep_dir / "runs" / name, split)})
    done = [s for s in scored if s["score"] is not None]
    return (max(done, key=lambda s: s["score"]) if done else None), scored


def _landing(spec: SweepSpec, sweep_dir: Path, seed: int, threads: int, resume: bool) -> dict[str, Any]:
    """What ``--select`` does for one seed (:func:`select_and_land`): its ``row`` of selection.csv
    and, where the chosen point must be trained again, the ``job`` (:func:`_exec`'s arguments)
    and the ``record`` that will go beside the landed run."""
    from .paths import project_root, reports_root, runs_root
    from .runs import run_stem

    best, scored = choose_point(spec, sweep_dir, seed)
    stem = run_stem(spec.dataset, spec.model, spec.protocol)
    target = runs_root() / run_name(stem, seed)
    row: dict[str, Any] = {"seed": seed, "run": target.name, "chosen_run": best and best["run"]}
    if best is None:
        return {"row": {**row, "status": "missing: no run of this seed has finished"}}
    row.update({**best["point"], "selection score": best["score"]})
    sweep_rel = sweep_dir.resolve()
    if sweep_rel.is_relative_to(reports_root()):
        sweep_rel = sweep_rel.relative_to(reports_root())  # sweeps/<name>, wherever the reports are
    record = {
        "sweep": str(sweep_rel),
        "seed": seed,
        "selected_on": selection_split(spec.protocol),
        "chosen": json.loads(json.dumps(best["point"])),
        "chosen_run": best["run"],
        "score": best["score"],
        "points": [{**s["point"], "run": s["run"], "score": s["score"]} for s in scored],
        "rule": "the largest selection score (sum of the run's selection metrics on the selection split) of "
        "this seed's points, ties to the first in grid order; no test metric was read",
    }
    if (target / "metrics.json").exists():
        old = target / GRID_SELECTION_FILE
        before = json.loads(old.read_text()) if old.exists() else {}
        if before.get("chosen") == record["chosen"]:
            return {"row": {**row, "status": "reused"}}
        if resume and before.get("sweep") != record["sweep"]:  # this sweep's own earlier choice is replaced
            return {"row": {**row, "status": f"kept: {target} holds another finished run; --no-resume replaces it"}}
    cfg = spec.config(best["point"], seed, target.name)
    cmd = _train_cmd(cfg, sweep_dir / "logs" / f"select-{target.name}.config.yaml", resume=False)
    env = _task_env({**os.environ, "CIKGWB_REPORTS_DIR": str(reports_root())}, threads)
    log_path = sweep_dir / "logs" / f"select-{target.name}.log"
    job = {"cmd": cmd, "env": env, "cwd": str(project_root()), "log_path": str(log_path), "timeout": None}
    return {"row": row, "job": job, "record": record, "target": target}


def _landed(plan: dict[str, Any], res: dict[str, Any], log: Any = print) -> dict[str, Any]:
    """Check a landed run and write its :data:`cikgwb.run_folder.GRID_SELECTION_FILE`; its row."""
    row, record, target = plan["row"], plan["record"], plan["target"]
    landed = selection_score(target, record["selected_on"])
    if res["status"] != "ok" or landed is None:
        return {**row, "status": f"failed: {res['status']} (log logs/select-{target.name}.log)"}
    record["landed_score"] = landed  # the rerun here: equal, the models being deterministic
    (target / GRID_SELECTION_FILE).write_text(json.dumps(record, indent=1) + "\n")
    if abs(landed - record["score"]) > 1e-9:
        log(
            f"  warning: {target.name} scores {landed} on the selection split, {record['chosen_run']} {record['score']}"
        )
    log(f"  seed {record['seed']}: {record['chosen_run']} chosen (selection score {record['score']:.4f}) -> {target}")
    return {**row, "status": "ok", "seconds": round(res["seconds"], 1)}


def select_and_land(
    spec: SweepSpec,
    sweep_dir: Path,
    threads: int = 1,
    resume: bool = True,
    executor: str = "local",
    log: Any = print,
) -> pd.DataFrame:
    """``--select``: per seed, the point with the largest selection score (:func:`choose_point`:
    the protocol's selection split, no test metric) is trained again as the model's ordinary run
    (``<runs>/<dataset>-<model>-<protocol>-s<seed>``, :func:`cikgwb.runs.run_stem`: its setting in
    config.yaml), with :data:`cikgwb.run_folder.GRID_SELECTION_FILE` beside it saying where the setting
    comes from, so the run index counts it as the model's row. A run already there from the same
    choice is kept; one this sweep chose before (another grid) is replaced; any other finished
    run there is kept unless ``resume=False`` (``--no-resume``) replaces it. The runs go one by one (``executor="batch"``: in one process,
    :func:`_run_batch`). Writes and returns ``<sweep>/selection.csv``."""
    plans = [_landing(spec, sweep_dir, int(s), threads, resume) for s in spec.seeds]
    jobs = [p["job"] for p in plans if "job" in p]
    env = _task_env(dict(os.environ), threads)
    results = iter(
        _run_batch(jobs, env, str(sweep_dir / "logs" / "select-batch.log"))
        if executor == "batch"
        else [_exec(**j) for j in jobs]
    )
    df = pd.DataFrame([_landed(p, next(results), log) if "job" in p else p["row"] for p in plans])
    df.to_csv(sweep_dir / "selection.csv", index=False)
    return df


def train_seeds_on_ray(args: Any, cfgs: list[Any], run_dirs: list[Path]) -> list[Path]:
    """``cikgwb train --seeds ... --executor ray``: one Ray task per seed, each training the
    seed's resolved, validated config (``cfgs``), written as a ``config.yaml`` beside its log and
    given to ``cikgwb train --config`` (the worker rebuilds nothing from the command line);
    returns the run folders that finished (the others' logs are named on stderr)."""
    from .paths import project_root

    root = project_root()
    flags = ["--quiet"] + [f"--{f}" for f in ("resume", "overwrite") if getattr(args, f, False)]
    seeds = [cfg.train.seed for cfg in cfgs]
    threads = args.threads or 1
    jobs = []
    for cfg, run_dir in zip(cfgs, run_dirs):
        run_dir = Path(run_dir).resolve()
        (run_dir.parent / "logs").mkdir(parents=True, exist_ok=True)
        cfg_file = run_dir.parent / "logs" / f"{run_dir.name}.config.yaml"
        cfg.save(cfg_file)
        env = _task_env(
            {**os.environ, "CIKGWB_REPORTS_DIR": str(run_dir.parent.parent), "CIKGWB_ROOT": str(root)}, threads
        )
        jobs.append(
            {
                "cmd": [sys.executable, "-m", "cikgwb", "train", "--config", str(cfg_file), *flags],
                "env": env,
                "cwd": str(Path.cwd()),
                "log_path": str(run_dir.parent / "logs" / f"{run_dir.name}.log"),
                "timeout": None,
            }
        )
    results = ray_map(jobs, threads=threads, gpus_per_run=args.gpus_per_run, address=args.address, desc="seeds")
    done = []
    for seed, run_dir, res, j in zip(seeds, run_dirs, results, jobs):
        print(json.dumps({"run": Path(run_dir).name, "seed": seed, "status": res["status"], "log": j["log_path"]}))
        if res["status"] == "ok":
            done.append(Path(run_dir))
        else:
            print(f"seed {seed}: {res['status']}; log {j['log_path']}", file=sys.stderr)
    return done


def load_sweep(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(results, spec)`` of a sweep folder (``results.csv`` and ``sweep.json``)."""
    path = Path(path)
    for f in ("results.csv", "sweep.json"):
        if not (path / f).exists():
            raise FileNotFoundError(f"{path / f} not found: not a finished sweep folder (run `cikgwb sweep`)")
    return pd.read_csv(path / "results.csv"), json.loads((path / "sweep.json").read_text())


def sensitivity_frames(
    results: pd.DataFrame,
    spec: dict[str, Any],
    metrics: tuple[str, ...] = ("recall@50", "ndcg@50"),
    split: str = "test",
) -> dict[str, pd.DataFrame]:
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
