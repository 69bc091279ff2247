"""``cikgwb demo``: the main job on the embedded synthetic dataset, offline, in minutes on 2 cores.

It generates the synthetic dataset, prints its statistics, evaluates the most-popular ranking,
trains LightGCN and CIKGRec with early stopping on valid (quick schedule unless ``--full``),
prints a metrics table, and (``--notebooks``) executes the notebooks with papermill.

Everything it writes (runs, figures, tables, executed notebooks, the sweep) goes under
:func:`demo_reports_dir`, ``reports/demo/`` (git ignores it), unless ``$CIKGWB_REPORTS_DIR`` names
another folder: a fresh clone stays clean and no committed figure is touched (issue 36 item 10).
"""

from __future__ import annotations

import os
import time

from tabulate import tabulate

from .paths import REPORTS_ENV, project_root, relative_to_cwd, reports_root


def demo_reports_dir() -> str:
    """Where the demo writes: ``$CIKGWB_REPORTS_DIR`` when set, else ``<project>/reports/demo``
    (ignored by git, so the demo never modifies a committed file)."""
    return os.environ.get(REPORTS_ENV, "").strip() or str(project_root() / "reports" / "demo")


def run_demo(quick: bool = True, notebooks: bool = True, epochs: int | None = None, only: str | None = None) -> int:
    """The demo (module docstring); ``epochs`` caps training (default 40 in quick mode), ``only``
    selects notebooks as ``cikgwb notebooks --only`` does."""
    os.environ[REPORTS_ENV] = demo_reports_dir()
    from .data import load_dataset
    from .evaluate import evaluate, most_popular_scores, split_masks
    from .models import default_config
    from .runs import run

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
        if quick or epochs:
            cfg.train.max_epochs = epochs or 40
        cfg.name = f"demo-synthetic-{model}"
        res = run(cfg, ds, overwrite=True)  # the demo's runs are regenerated every time
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
        from .plots import NO_PNG_LINE, png_available

        if not png_available():
            print(NO_PNG_LINE)
        run_all(quick=True, only=only)
    out = relative_to_cwd(reports_root())
    print(
        f"\ndone in {time.time() - t0:.0f} s; everything under {out}/ (runs/demo-synthetic-*, figures/synthetic, ...)"
    )
    return 0
