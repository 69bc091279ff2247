"""``cikgwb train`` and ``cikgwb demo``: train a model (one run per seed), or the whole job on the synthetic data."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from .options import add_dataset, add_device, add_interests, add_model, add_protocol, add_ray, add_seeds, add_set

TRAIN_DESCRIPTION = """\
Train CIKGRec or a baseline into reports/runs/<name>-s<seed>: early stopping on the protocol's
selection split, the test metrics evaluated once at the selected epoch. Settings come from the
model's defaults, then --config, then each --set; every setting is checked before any data is
loaded or any folder written.

  cikgwb train --dataset book-crossing --model lightgcn --seeds 0,1,2 --protocol users
  cikgwb train --dataset synthetic --set max_epochs=5 --set lr=0.002 --name try"""


def train_configs(args: Any) -> list[Any]:
    """One validated, resolved run config per seed of ``args``: an unknown dataset, model or setting,
    a bad --protocol, --device or --seeds fails here, naming it, before any data or folder.

    The settings, in order: the model's defaults on the dataset (or ``--config FILE``: its
    settings, its interest source and its name are kept unless a flag says otherwise), each
    ``--set``, then ``--interests``, ``--protocol``, ``--device`` and the seed. They are applied
    and checked once (:func:`cikgwb.config.apply_overrides`), then resolved once
    (:func:`cikgwb.run_spec.resolve_config`); the trainer reads the result."""
    from ..config import apply_overrides
    from ..models import load_config, make_config
    from ..run_spec import default_stem, resolve_config, run_name, split_run_name

    flags = {"interests": args.interests, "protocol": args.protocol, "device": args.device}
    cfgs = []
    for seed in list(args.seeds) if args.seeds is not None else [None]:  # parsed by options.seed_list
        cfg = (
            load_config(args.config, validate=False)
            if args.config
            else make_config(args.model, args.dataset, validate=False)
        )
        stem = args.name or (split_run_name(cfg.name)[0] if cfg.name else None)
        apply_overrides(cfg, args.set or [], validate=False)
        settings = {**{k: v for k, v in flags.items() if v is not None}, **({"seed": seed} if seed is not None else {})}
        apply_overrides(cfg, settings)  # the one check of the whole config
        cfg = dataclasses.replace(cfg, name=run_name(stem or default_stem(cfg), cfg.train.seed))
        if args.executor == "local":  # --device cuda on a CPU-only torch: one line
            from ..train import pick_device

            pick_device(cfg.train.device)
        cfgs.append(resolve_config(cfg))  # the interest source parsed and checked, once; the trainer reads
    return cfgs


def _summary_line(name: str, m: dict[str, Any]) -> str:
    """The one JSON line ``cikgwb train`` prints per finished run."""
    test = {k: round(v, 4) for k, v in m["test"].items() if "@" in k and k.split("@")[0] in ("recall", "ndcg")}
    keep = {"run": name, "protocol": m["protocol"], "selected_epoch": m["selected_epoch"]}
    return json.dumps({**keep, "stop_reason": m["stop_reason"], "test": test}, indent=None)


def train(args: Any) -> int:
    from ..paths import relative_to_cwd, runs_root
    from ..run_folder import check_run_dir
    from ..run_spec import split_run_name
    from ..runs import run
    from .graph import check_run_graphs  # has the run's interest graph seen its selection split?

    if args.strict:  # the data loader (here and in Ray workers) reads it
        os.environ["CIKGWB_STRICT_DATA"] = "1"
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other: give one")
    cfgs = train_configs(args)
    run_dirs = [relative_to_cwd(runs_root() / cfg.name) for cfg in cfgs]
    for run_dir in run_dirs:  # every seed's folder checked before any work: a finished run is never lost
        check_run_dir(run_dir, resume=args.resume, overwrite=args.overwrite)
    check_run_graphs(cfgs, strict=args.strict)
    if args.executor == "ray" and len(cfgs) > 1:
        from ..sweep import train_seeds_on_ray

        run_dirs = train_seeds_on_ray(args, cfgs, run_dirs)
    else:
        run_dirs = []
        for cfg in cfgs:
            res = run(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
            run_dirs.append(res.run_dir)
            print(_summary_line(cfg.name, res.metrics))
    if len(run_dirs) > 1:
        from ..reports import summarize_seeds

        path = summarize_seeds(run_dirs, out_name=split_run_name(cfgs[0].name)[0])
        print(f"summary over seeds {[c.train.seed for c in cfgs]}: {path}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train CIKGRec or a baseline (early stopping on valid)", description=TRAIN_DESCRIPTION
    )
    add_dataset(p)
    add_model(p)
    add_interests(
        p,
        help="paper | none | PATH to a user-interest graph (default paper, or the interests of --config FILE)",
        default=None,
    )
    add_set(p)
    add_seeds(p)
    add_protocol(
        p,
        None,
        help="valid (default: selects on a carve-out of train.txt), users (trains on all of train.txt, selects on "
        "the test items of a seeded half of the test users, reports the other half; the half draw is "
        "--set split_seed=N) or authors (selects on TEST: comparison with the paper only)",
    )
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a config.yaml to start from (its settings, interests and name; --model and --dataset are ignored)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="the run's name: its folder is reports/runs/<name>-s<seed> (default <dataset>-<model>-<protocol>; "
        "a CIKGRec variant adds its name before the protocol)",
    )
    add_device(p, None, help="auto (default), cpu or cuda")
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
    add_ray(
        p,
        address_help="Ray cluster: auto | HOST:PORT | ray://HOST:PORT (default: a local Ray cluster of this machine's "
        "cores)",
        gpus_help="--executor ray: fraction of a GPU per seed where CUDA is present (0.25: four per card)",
    )
    p.add_argument("--threads", type=int, default=None, help="--executor ray: CPUs (torch threads) per seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (instead of warning) when a data file's sha256 is not the pinned one, or when the leak "
        "diagnostic (cikgwb graph leak) says the run's interest graph has seen its selection split",
    )
    p.set_defaults(func=train)
    _register_demo(sub)


def _register_demo(sub: Any) -> None:
    d = sub.add_parser(
        "demo",
        help="the main job on the embedded synthetic dataset (offline)",
        description="The main job on the embedded synthetic dataset, offline, in minutes: its statistics, the "
        "most-popular ranking, LightGCN and CIKGRec trained with early stopping, a metrics table, then the "
        "notebooks executed with papermill. Everything goes under reports/demo (git ignores it).",
    )
    d.add_argument("--full", action="store_true", help="train to early stop instead of the quick schedule")
    d.add_argument(
        "--no-notebooks",
        dest="notebooks",
        action="store_false",
        help="skip executing notebooks 01-09 with papermill (they run by default)",
    )
    d.set_defaults(func=demo)


def demo(args: Any) -> int:
    from ..demo import run_demo

    return run_demo(quick=not args.full, notebooks=args.notebooks)
