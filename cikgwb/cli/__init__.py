"""The ``cikgwb`` command: data, interests, graph, train, evaluate, demo, sweep, notebooks."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable


def _optional(register: Callable[[], Any]) -> None:
    """Wire an area's sub-commands; an area whose optional extras are missing stays out."""
    try:
        register()
    except ImportError as exc:  # pragma: no cover - only without optional extras
        logging.getLogger(__name__).debug("sub-command not available: %s", exc)


# ----------------------------------------------------------------------------- data
def _data_stats(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .evaluate import sparsity_groups

    ds = load_dataset(
        args.name, data_dir=args.data_dir, split_seed=args.split_seed, interests="optional", strict=args.strict
    )
    s = ds.summary()
    if args.json:
        s["warnings"] = ds.meta.get("warnings", {})
        print(json.dumps(s, indent=2, default=str))
        return 0
    print(f"{ds.name}  (paper's Table 2 figures, then interest graph and split)")
    rows = [
        ("users", f"{s['users']:,}"),
        ("items", f"{s['items']:,}"),
        ("ratings", f"{s['ratings']:,}"),
        ("density", f"{100 * s['density']:.2f}%"),
        ("relations", f"{s['relations']:,}"),
        ("entities", f"{s['entities']:,}"),
        ("triples", f"{s['triples']:,}"),
        ("interest edges", f"{s['interest edges']:,}"),
        ("interest nodes", f"{s['interests']:,}"),
        ("users with interests", f"{s['users with interests']:,}"),
        ("interest source", ds.meta.get("interests_source", "")),
        ("KG", ds.meta.get("kg", "")),
        ("train / valid / test pairs", f"{s['train pairs']:,} / {s['valid pairs']:,} / {s['test pairs']:,}"),
        ("split", f"seed {s['split']['seed']}: {s['split']['rule']}"),
    ]
    from .results import train_counts

    counts = train_counts(ds)  # the paper's (KGAT's) groups, on all of train.txt: Figure 3 uses the same
    groups = sparsity_groups(counts, 4)
    for g in range(int(groups.max()) + 1):
        c = counts[groups == g]
        rows.append(
            (
                f"sparsity group {g + 1}",
                f"{len(c):,} users, {c.min()}-{c.max()} train.txt items, {c.sum():,} interactions",
            )
        )
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    from .data.loader import warning_note

    for k, v in ds.meta.get("warnings", {}).items():
        print(f"  warning: {k}: {v:,} ({warning_note(ds.name, k, v)})")
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="fetch, verify and describe datasets")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    from .data.download import add_fetch_parsers

    add_fetch_parsers(dsub)
    s = dsub.add_parser("stats", help="Table 2 statistics, interest graph and split of a dataset")
    s.add_argument("name")
    s.add_argument("--data-dir", default=None)
    s.add_argument("--split-seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--strict", action="store_true", help="fail (instead of warning) when a file's sha256 is not the pinned one"
    )
    s.set_defaults(func=_data_stats)


# ----------------------------------------------------------------------------- train
def _train(args: argparse.Namespace) -> int:
    from .config import apply_overrides, validate_config
    from .models import load_config, make_config
    from .paths import relative_to_cwd, runs_root
    from .runs import default_stem, resolve_config, run_name
    from .train import Trainer, check_run_dir

    seeds = list(args.seeds) if args.seeds is not None else [None]  # parsed by config.seed_list
    if getattr(args, "strict", False):  # the data loader (here and in Ray workers) reads it
        os.environ["CIKGWB_STRICT_DATA"] = "1"
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other: give one")
    cfgs = []
    for seed in seeds:
        if args.config:
            cfg = load_config(args.config)
        else:  # an unknown dataset or model fails here, naming it, before any data is loaded
            cfg = make_config(args.model, args.dataset)
        cfg.interests = args.interests
        apply_overrides(cfg, args.set or [])
        if args.protocol:
            cfg.train.protocol = args.protocol
        if args.device:
            cfg.train.device = args.device
        if seed is not None:
            cfg.train.seed = seed
        base = args.name or default_stem(cfg)
        cfg.name = run_name(base, cfg.train.seed)
        validate_config(cfg)  # --protocol, --device, --seeds too: before any data or folder
        if getattr(args, "executor", "local") == "local":  # --device cuda on a CPU-only torch: one line
            from .train import pick_device

            pick_device(cfg.train.device)
        cfgs.append(resolve_config(cfg))  # the run layer resolves (interest source checked); the trainer reads
    for cfg in cfgs:  # every seed's folder checked before any work: a finished run is never lost
        check_run_dir(relative_to_cwd(runs_root() / cfg.name), resume=args.resume, overwrite=args.overwrite)
    from .knowledge.leak_cli import check_run_graphs  # has the run's interest graph seen its selection split?

    check_run_graphs(cfgs, strict=getattr(args, "strict", False))
    if getattr(args, "executor", "local") == "ray" and len(cfgs) > 1:
        from .sweep import train_seeds_on_ray

        run_dirs = train_seeds_on_ray(
            args, [c.train.seed for c in cfgs], [relative_to_cwd(runs_root() / c.name) for c in cfgs]
        )
    else:
        run_dirs = []
        for cfg in cfgs:
            res = Trainer(cfg, progress=not args.quiet).fit(resume=args.resume, overwrite=args.overwrite)
            run_dirs.append(res.run_dir)
            m = res.metrics
            print(
                json.dumps(
                    {
                        "run": cfg.name,
                        "protocol": m["protocol"],
                        "selected_epoch": m["selected_epoch"],
                        "stop_reason": m["stop_reason"],
                        "test": {
                            k: round(v, 4)
                            for k, v in m["test"].items()
                            if "@" in k and k.split("@")[0] in ("recall", "ndcg")
                        },
                    },
                    indent=None,
                )
            )
    if len(run_dirs) > 1:
        from .reports import summarize_seeds

        path = summarize_seeds(run_dirs, out_name=base)
        print(f"summary over seeds {seeds}: {path}")
    return 0


def _add_train(sub) -> None:
    from .config import seed_list

    p = sub.add_parser("train", help="train CIKGRec or a baseline (early stopping on valid)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--model", default="cikgrec")
    p.add_argument("--interests", default="paper", help="paper | none | PATH to a user-interest graph")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting (repeatable)")
    p.add_argument("--seeds", type=seed_list, default=None, help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument(
        "--protocol",
        choices=["valid", "users", "authors"],
        default=None,
        help="valid (default: selects on a carve-out of train.txt), users (trains on all of train.txt, selects on "
        "the test items of a seeded half of the test users, reports the other half; the half draw is "
        "--set split_seed=N) or authors (selects on TEST: comparison with the paper only)",
    )
    p.add_argument("--config", default=None, help="a config.yaml to start from")
    p.add_argument("--name", default=None)
    p.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run's last checkpoint ($CIKGWB_CHECKPOINT_DIR, default "
        "~/.cache/cikgwb/checkpoints: found from any clone on this machine)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="train again from scratch where the run folder holds a finished run (refused without)",
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="with several --seeds: local (one after the other) or ray (one Ray task per seed)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster: auto | HOST:PORT | ray://HOST:PORT (default: a local Ray cluster of this machine's cores)",
    )
    p.add_argument("--threads", type=int, default=None, help="--executor ray: CPUs (torch threads) per seed")
    p.add_argument(
        "--gpus-per-run",
        type=float,
        default=None,
        help="--executor ray: fraction of a GPU per seed where CUDA is present (0.25: four per card)",
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (instead of warning) when a data file's sha256 is not the pinned one, or when the leak "
        "diagnostic (cikgwb graph leak) says the run's interest graph has seen its selection split",
    )
    p.set_defaults(func=_train)


# ----------------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(quick=not args.full, notebooks=args.notebooks)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the main job on the embedded synthetic dataset (offline)")
    p.add_argument("--full", action="store_true", help="train to early stop instead of the quick schedule")
    p.add_argument(
        "--no-notebooks",
        dest="notebooks",
        action="store_false",
        help="skip executing notebooks 01-09 with papermill (they run by default)",
    )
    p.set_defaults(func=_demo)


# ----------------------------------------------------------------------------- results
def _results(args: argparse.Namespace) -> int:
    from .paths import relative_to_cwd, runs_root
    from .results import REAL_DATASETS, results_markdown, runs_table

    root = Path(args.runs) if args.runs else relative_to_cwd(runs_root())  # printed as reports/runs
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such runs folder (train a model first, or give --runs PATH)")
    runs = runs_table(root)
    datasets = args.dataset or list(REAL_DATASETS)
    if args.claims:  # the paper's claims read from these runs (cikgwb.claims)
        from .claims import claims_markdown, figure5_folder

        figure5 = Path(args.figure5) if args.figure5 else figure5_folder()
        shown = tuple(d for d in datasets if d != "ml1m")
        made_by = f"`cikgwb results --claims` from the runs under {root}"
        print(claims_markdown(runs, figure5, shown, summary=args.claims == "verdicts", made_by=made_by), end="")
        return 0
    table = results_markdown(runs, datasets, args.model)
    if not table:
        print(f"no finished run of {', '.join(datasets)} under {root}")
        return 0
    print(
        f"Finished runs under {root} (test metrics at the selected epoch; seed, machine and commit in each "
        "run's metrics.json)\n"
    )
    print(table, end="")
    return 0


def _add_results(sub) -> None:
    p = sub.add_parser("results", help="every finished run beside the paper's Table 1 (markdown)")
    p.add_argument("--dataset", action="append", help="only this dataset (repeatable; default the real ones)")
    p.add_argument("--model", action="append", help="only this model (repeatable)")
    p.add_argument("--runs", default=None, help="the runs folder (default reports/runs)")
    p.add_argument(
        "--claims",
        nargs="?",
        const="report",
        choices=("report", "verdicts"),
        help="instead of the table: the paper's claims read from these runs by fixed rules (cikgwb.claims; "
        "'verdicts' for one line each, as in the README)",
    )
    p.add_argument(
        "--figure5",
        default=None,
        help="with --claims: Figure 5's sweep folder (default reports/sweeps/book-crossing-figure5)",
    )
    p.set_defaults(func=_results)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cikgwb", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    _add_data(sub)
    _add_train(sub)
    _add_demo(sub)
    _add_results(sub)
    from .evaluate import add_parser as add_baseline

    add_baseline(sub)
    from .run_artefact import add_parser as add_artefact

    add_artefact(sub)

    def interests():
        from .knowledge.cli import add_parser as add_interests

        isub = add_interests(sub)
        from .knowledge.cluster_cli import add_cluster_parser, add_control_parser, add_graph_parser, add_name_parser

        add_cluster_parser(isub)
        add_name_parser(isub)
        add_control_parser(isub)
        add_graph_parser(sub)

    _optional(interests)

    def extras():
        from .sweep import add_parser as add_sweep

        add_sweep(sub)

    _optional(extras)

    def compare():
        from .compare import add_parser as add_compare

        add_compare(sub)

    _optional(compare)

    def notebooks():
        from .notebooks import add_parser as add_notebooks

        add_notebooks(sub)

    _optional(notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
    warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        # bad input (DataFormatError is a ValueError), a diverged run, a full disk (atomic.DiskFull,
        # an OSError), a missing or unreadable file...: a clear message, no traceback
        if args.verbose:
            raise
        print(f"cikgwb {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; completed work is saved (rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
