"""``cikgwb demo``: the main job on the embedded synthetic dataset, offline, in minutes on 2 cores.

It generates the synthetic dataset, prints its statistics, evaluates the most-popular ranking,
trains LightGCN and CIKGRec with early stopping on valid (quick schedule unless ``--full``),
prints a metrics table, and (``--notebooks``) executes the notebooks with papermill.
"""

from __future__ import annotations

import time

from tabulate import tabulate


def run_demo(quick: bool = True, notebooks: bool = True) -> int:
    from .data import load_dataset
    from .evaluate import evaluate, most_popular_scores, split_masks
    from .models import default_config
    from .train import Trainer

    t0 = time.time()
    ds = load_dataset("synthetic")
    s = ds.summary()
    print(
        f"synthetic dataset: {s['users']} users, {s['items']} items, {s['ratings']} ratings, "
        f"{s['triples']} KG triples, {s['interests']} interest nodes ({ds.meta['interests_source']})"
    )
    rows = []
    heldout, exclude = split_masks(ds, "test")
    pop = evaluate(most_popular_scores(ds.matrix("train")), heldout, exclude)
    rows.append(["most popular", "-", *(pop.metrics[k] for k in ("recall@50", "recall@100", "ndcg@50", "ndcg@100"))])
    for model in ("lightgcn", "cikgrec"):
        cfg = default_config("synthetic", model)
        if quick:
            cfg.train.max_epochs = 40
        cfg.name = f"demo-synthetic-{model}"
        res = Trainer(cfg, ds=ds).fit(overwrite=True)  # the demo's runs are regenerated every time
        m = res.metrics
        rows.append(
            [model, m["selected_epoch"], *(m["test"][k] for k in ("recall@50", "recall@100", "ndcg@50", "ndcg@100"))]
        )
    print()
    print(
        "Test metrics on the synthetic dataset (selection on valid, test once at the selected epoch; seed 0; "
        "interests: synthetic oracle, NOT an LLM)"
    )
    print(tabulate(rows, headers=["model", "selected epoch", "R@50", "R@100", "N@50", "N@100"], floatfmt=".4f"))
    if notebooks:
        from .notebooks import run_all

        run_all(quick=True)
    print(f"\ndone in {time.time() - t0:.0f} s; runs under reports/runs/demo-synthetic-*")
    return 0
