"""``cikgwb results``, ``compare``, ``per-user`` and ``baseline``: read finished runs, test two models, score a baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .options import add_data_dir, add_dataset, add_device, add_model, add_runs_root

COMPARE_DESCRIPTION = """\
Is model A better than model B, and by how much? Two paired comparisons of the test metrics at
each run's selected epoch (A minus B):

  over seeds  the runs paired by seed: paired t-test and Wilcoxon signed-rank test (fewer than 6
              seeds can never be significant by the Wilcoxon test);
  over users  each user's test metric (averaged over a side's seeds) paired with the same user's
              under the other model: paired t-test, Wilcoxon signed-rank, the mean difference with
              its 95% confidence interval, Cohen's d_z and the rank-biserial correlation.

P-values are two-sided and conditional on the dataset's one published train/test split. A side is
one or more runs: a run folder, a run name under the runs folder, or a seed-less stem for all its
-s<seed> runs. The method and its caveats: the docstring of cikgwb.compare.

  cikgwb compare book-crossing-cikgrec-valid book-crossing-lightgcn-valid
  cikgwb compare --a run-s0 run-s1 --b other-s0 other-s1 --metric ndcg@50"""


def results(args: Any) -> int:
    from ..paths import relative_to_cwd, runs_root
    from ..results import REAL_DATASETS, results_markdown, runs_table

    root = Path(args.runs_root) if args.runs_root else relative_to_cwd(runs_root())  # printed as reports/runs
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such runs folder (train a model first, or give --runs PATH)")
    runs = runs_table(root)
    datasets = args.dataset or list(REAL_DATASETS)
    if args.claims:  # the paper's claims read from these runs (cikgwb.claims)
        from ..claims import claims_markdown, figure5_folder

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


def compare(args: Any) -> int:
    from ..compare import DEFAULT_METRICS, _json_safe, compare_runs, format_report, resolve_runs

    if args.a or args.b:
        if not (args.a and args.b) or args.runs:
            raise ValueError("give either RUN_A RUN_B ... or both --a RUNS... and --b RUNS...")
        a = [p for s in args.a for p in resolve_runs(s, args.runs_root)]
        b = [p for s in args.b for p in resolve_runs(s, args.runs_root)]
    else:
        if len(args.runs) < 2 or len(args.runs) % 2:
            raise ValueError(f"expected RUN_A RUN_B [RUN_A2 RUN_B2 ...] (pairs), got {len(args.runs)} name(s)")
        a = [p for s in args.runs[0::2] for p in resolve_runs(s, args.runs_root)]
        b = [p for s in args.runs[1::2] for p in resolve_runs(s, args.runs_root)]
    res = compare_runs(a, b, metrics=args.metric or DEFAULT_METRICS, compute_missing=not args.no_compute)
    if args.json:
        print(json.dumps(_json_safe(res), indent=1))
    else:
        print(format_report(res), end="")
    return 0


def per_user(args: Any) -> int:
    from ..compare import resolve_runs
    from ..runs import per_user_from_rerun, write_per_user

    if args.from_rerun:
        runs = [r for spec in args.runs for r in resolve_runs(spec)]
        if len(runs) != 1:
            raise ValueError(f"--from-rerun: give one run, got {len(runs)} ({', '.join(map(str, runs))})")
        out = per_user_from_rerun(runs[0], args.from_rerun, ndcg_tol=args.ndcg_tol)  # RerunMismatch: a ValueError
        print(f"{out['path']}: from {args.from_rerun}; {len(out['differences'])} test value(s) differ (NDCG only)")
        return 0
    for spec in args.runs:
        for run in resolve_runs(spec):
            out = write_per_user(run, device=args.device)
            print(f"{out['path']}: epoch {out['epoch']}, means within {out['max_abs_diff']:.1e} of metrics.json")
    return 0


def baseline(args: Any) -> int:
    import numpy as np

    from ..data import load_dataset
    from ..evaluate import evaluate, group_metrics, most_popular_scores, random_scores, sparsity_groups, split_masks

    ds = load_dataset(args.dataset, data_dir=args.data_dir)
    heldout, exclude = split_masks(ds, args.split)
    train = ds.matrix("train" if args.split == "valid" else "train_full")
    fn = most_popular_scores(train) if args.method == "most-popular" else random_scores(ds.n_items, args.seed)
    res = evaluate(fn, heldout, exclude, ks=args.ks)
    print(json.dumps(res.to_dict(), indent=2))
    if args.groups:
        counts = np.diff(train.indptr)
        metric = f"ndcg@{50 if 50 in res.ks else max(res.ks)}"
        print(group_metrics(res, sparsity_groups(counts, args.groups), metric, counts).to_string())
    return 0


def register(sub: Any) -> None:
    """``results`` and ``baseline``."""
    p = sub.add_parser(
        "results",
        help="every finished run beside the paper's Table 1 (markdown)",
        description="Every finished run under the runs folder beside the paper's Table 1 (test metrics at the "
        "selected epoch), or with --claims the paper's claims read from these runs by fixed rules.",
    )
    add_dataset(p, repeat=True)
    add_model(p, repeat=True)
    add_runs_root(p)
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
        metavar="DIR",
        help="with --claims: Figure 5's sweep folder (default reports/sweeps/book-crossing-figure5)",
    )
    p.set_defaults(func=results)

    b = sub.add_parser(
        "baseline",
        help="evaluate the most-popular or random baseline",
        description="Full-ranking metrics of a non-learned baseline (most popular items, or a seeded random "
        "ranking) on a dataset's valid or test split.",
    )
    add_dataset(b)
    add_data_dir(b)
    b.add_argument("--split", choices=["valid", "test"], default="test", help="the split scored (default test)")
    b.add_argument("--method", choices=["most-popular", "random"], default="most-popular", help="the baseline")
    b.add_argument("--ks", type=int, nargs="+", default=[20, 50, 100], help="cut-offs K (default 20 50 100)")
    b.add_argument("--seed", type=int, default=0, help="seed of the random ranking")
    b.add_argument("--groups", type=int, default=0, help="also print NDCG@50 per sparsity group")
    b.set_defaults(func=baseline)


def register_compare(sub: Any) -> None:
    """``compare`` and ``per-user``."""
    from ..compare import DEFAULT_METRICS

    p = sub.add_parser(
        "compare", help="paired significance tests of two models' runs (seeds, users)", description=COMPARE_DESCRIPTION
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="RUN_A RUN_B [RUN_A2 RUN_B2 ...]: folders, run names or <stem> of <stem>-s<seed>",
    )
    p.add_argument("--a", nargs="+", metavar="RUN", help="model A's runs (one per seed)")
    p.add_argument("--b", nargs="+", metavar="RUN", help="model B's runs (one per seed)")
    p.add_argument(
        "--metric", action="append", help=f"a test metric (repeatable; default {', '.join(DEFAULT_METRICS)})"
    )
    add_runs_root(p, help="where run names are looked up (default reports/runs)")
    p.add_argument(
        "--no-compute", action="store_true", help="do not write a missing test_per_user.npz from the run's best.pt"
    )
    p.add_argument("--json", action="store_true", help="the full result as JSON")
    p.set_defaults(func=compare)

    q = sub.add_parser(
        "per-user",
        help="write test_per_user.npz of existing runs from their best.pt, or take a rerun's (--from-rerun)",
        description="Write each run's per-user test metrics (test_per_user.npz, what `cikgwb compare` pairs over "
        "users) from its best checkpoint, or take them from a finished rerun of the same config and seed.",
    )
    q.add_argument("runs", nargs="+", metavar="RUN", help="run folders, run names or seed-less stems")
    add_device(q)
    q.add_argument(
        "--from-rerun",
        metavar="RERUN",
        default=None,
        help="a finished rerun of RUN (same config and seed) whose test_per_user.npz RUN takes, when RUN's "
        "checkpoint is gone; refused unless the selected epoch and test recall/precision/hit match exactly",
    )
    q.add_argument("--ndcg-tol", type=float, default=1e-6, help="with --from-rerun: NDCG may differ by this much")
    q.set_defaults(func=per_user)
