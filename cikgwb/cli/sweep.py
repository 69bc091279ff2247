"""``cikgwb sweep``: a training config (or a notebook) over a parameter grid, several runs at a time."""

from __future__ import annotations

import os
from typing import Any

from .options import add_dataset, add_interests, add_model, add_protocol, add_ray, add_seeds, add_set

DESCRIPTION = """\
Run a training config (or a notebook) over a parameter grid, several runs at a time, and collect
the results into reports/sweeps/<name>/results.csv (one row per point x seed), which notebook
09_sensitivity draws (Figure 5). Names in --grid are settings (mask_alpha, gcl_weight, ...) or the
paper's symbols (alpha, omega, lambda1-3, tau). Mode each varies one parameter at a time with the
others at their base values (the paper's Figure 5); grid runs every combination. A point whose
run has finished is reused. --select then chooses each seed's best point on the protocol's
selection split (never test) and trains it again as the model's ordinary run in reports/runs.
Executors, Ray clusters and tokens, the folder layout: the docstring of cikgwb.sweep.

  cikgwb sweep --dataset book-crossing --preset figure5 --seeds 0,1,2
  cikgwb sweep --grid lambda3=0.01,0.1,0.5 --set max_epochs=20
  cikgwb sweep --dataset synthetic --model ease --preset grid --protocol users --select"""


def _grid(args: Any) -> tuple[dict[str, list[Any]], str, str]:
    """``(grid, mode, default sweep name)`` of ``--preset``, ``--grid`` and ``--mode``."""
    from ..runs import run_stem
    from ..sweep import PRESETS, model_grid, parse_grid

    mode = args.mode
    if args.preset == "grid":  # the model's own grid, every combination, named like its runs
        grid, mode = {**model_grid(args.model), **parse_grid(args.grid or [])}, "grid"
        default_name = run_stem(args.dataset, args.model, args.protocol)
    elif args.preset:
        grid, default_name = (
            {**PRESETS[args.preset], **parse_grid(args.grid or [])},
            f"{args.dataset}-{args.preset}",
        )
    else:
        grid = parse_grid(args.grid or [])
        default_name = f"{args.dataset}-{args.model}-{'-'.join(grid)}-{args.mode}"
    return grid, mode, default_name


def sweep(args: Any) -> int:
    from tabulate import tabulate

    from ..sweep import (
        SweepSpec,
        queue_lines,
        run_sweep,
        select_and_land,
        selection_split,
        sweep_folder,
    )

    base: dict[str, Any] = {}
    for item in args.set or []:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value")
        k, v = item.split("=", 1)
        base[k.strip()] = v.strip()
    grid, mode, default_name = _grid(args)
    seeds = list(args.seeds)  # parsed by cli.seed_list (a bad list names --seeds)
    if args.select:
        selection_split(args.protocol)  # refused before any run under a protocol that selects on test
    name = args.name or default_name
    spec = SweepSpec(
        name=name,
        grid=grid,
        mode=mode,
        dataset=args.dataset,
        model=args.model,
        protocol=args.protocol,
        seeds=seeds,
        base=base,
        interests=args.interests,
        notebook=args.notebook,
        split_seed_is_seed=args.split_seed_is_seed,
    )
    spec.validate()  # a bad setting or grid value: one line (cikgwb.cli.main), exit code 2
    if args.queue:
        print(
            f"# sweep {spec.name}: {len(spec.points())} points x {len(spec.seeds)} seed(s); train into "
            f"<reports>/sweeps/{spec.name} (campaign.py --reports-dir), then the same sweep command with --collect"
        )
        print("\n".join(queue_lines(spec)))
        return 0
    df = run_sweep(
        spec,
        out_root=args.out,
        jobs=args.jobs,
        threads=args.threads,
        resume=not args.no_resume,
        timeout=args.timeout,
        keep_checkpoints=args.keep_checkpoints,
        executor=args.executor,
        address=args.address,
        gpus_per_run=args.gpus_per_run,
        max_retries=args.max_retries,
        collect_only=args.collect,
    )
    show = [c for c in [*spec.keys, "seed", "status", "selected_epoch", "test recall@50", "test ndcg@50"] if c in df]
    print(tabulate(df[show], headers="keys", showindex=False, floatfmt=".4f"))
    fine = {"ok", "reused"} | ({"missing"} if args.collect else set())
    ok = df["status"].isin(fine).all()
    if args.select:
        sweep_dir = sweep_folder(spec.name, args.out)
        sel = select_and_land(spec, sweep_dir, args.threads or 1, not args.no_resume, args.executor)
        print(f"chosen on {selection_split(spec.protocol)} (selection.csv):")
        print(tabulate(sel, headers="keys", showindex=False, floatfmt=".4f"))
        ok = ok and sel["status"].isin({"ok", "reused"}).all()
    return 0 if ok else 1


def register(sub: Any) -> None:
    from ..sweep import MODES, PRESETS

    p = sub.add_parser(
        "sweep", help="run a training config or a notebook over a parameter grid", description=DESCRIPTION
    )
    p.add_argument(
        "--grid",
        action="append",
        metavar="NAME=v1,v2,...",
        help="a swept parameter (repeatable); paper symbols alpha, omega, lambda1-3, tau allowed",
    )
    p.add_argument(
        "--preset",
        choices=sorted([*PRESETS, "grid"]),
        default=None,
        help="a named grid: figure5 = the paper's Figure 5 (alpha, omega, lambda2, lambda3; values and "
        "reasons in cikgwb.paper.FIGURE5_GRID); --grid adds or replaces parameters; default --name DATASET-PRESET. "
        "grid = the model's own grid (its Config.GRID: ease, itemknn, gfcf), every combination, default --name "
        "DATASET-MODEL-PROTOCOL",
    )
    p.add_argument(
        "--select",
        action="store_true",
        help="after the runs, choose each seed's best point on the protocol's selection split (valid, or the users "
        "protocol's selection half; never test) and train it again as the model's ordinary run in reports/runs "
        "(<dataset>-<model>-<protocol>-s<seed>, with grid_selection.json); writes selection.csv",
    )
    p.add_argument(
        "--split-seed-is-seed",
        action="store_true",
        help="each run's split_seed is its seed (seed i with split_seed i, as the users protocol pairs them)",
    )
    p.add_argument("--mode", choices=MODES, default="each", help="each: one at a time (default); grid: product")
    add_dataset(p)
    add_model(p)
    add_protocol(p, "valid")
    add_interests(p)
    add_seeds(p, default="0")
    add_set(p, help="a setting for every run (repeatable)")
    p.add_argument("--notebook", default=None, help="sweep a notebook (papermill) instead of a training config")
    p.add_argument("--name", default=None, help="the sweep's folder name under reports/sweeps")
    p.add_argument("--out", default=None, metavar="DIR", help="parent folder (default reports/sweeps)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs at a time")
    p.add_argument("--threads", type=int, default=None, help="threads per run (default cores / jobs)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per run")
    p.add_argument("--no-resume", action="store_true", help="rerun points that already have results")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints (deleted by default)")
    p.add_argument(
        "--executor",
        choices=["local", "ray", "batch"],
        default="local",
        help="local: --jobs processes on this machine; ray: one Ray task per point x seed; batch: every run in "
        "one process, one after another (imports and data loaded once: for runs of seconds, the simple baselines)",
    )
    add_ray(
        p,
        address_help="--executor ray: auto | HOST:PORT | ray://HOST:PORT (default: a local cluster on 127.0.0.1); a "
        "head started with a Ray token (token authentication) needs RAY_AUTH_MODE=token here, the token in "
        "RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token",
        gpus_help="--executor ray: GPU fraction per run where the cluster has GPUs (default 1; 0.25: four per card)",
    )
    p.add_argument("--max-retries", type=int, default=2, help="--executor ray: retries of a run whose worker died")
    p.add_argument(
        "--queue",
        action="store_true",
        help="run nothing: print the sweep's runs as a campaign queue (scripts/campaign.py) for lanes",
    )
    p.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: write results.csv from the runs already finished in the sweep folder (e.g. trained "
        "by single-thread lanes with `cikgwb train --name RUN`), a 'missing' row for each other point",
    )
    p.set_defaults(func=sweep)
