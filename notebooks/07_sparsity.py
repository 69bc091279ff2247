# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Sparsity: Figure 3
#
# Users are cut into four groups of about equal total training interactions (KGAT-style, on all
# of `train.txt`, so every run gets the same groups); the test NDCG@50 of each group is
# averaged over the group's users with test items. One bar per model; the paper finds the gain
# of CIKGRec largest for the sparsest group. Per-user metrics need the model, so each run's
# group table is computed once from its checkpoint and cached as `sparsity_groups.csv` next to
# its `metrics.json` (small, committable); runs with neither are listed as missing.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
protocol = "valid"
metric = "ndcg@50"
n_groups = 4
runs_dir = None         # None: reports/runs
models = None           # None: every model with a run (CIKGRec variants other than full left out)
train_if_missing = None # None: on synthetic in quick mode, train quick LightGCN and CIKGRec runs when none exist

# %%
from pathlib import Path


from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.notebooks import start
from cikgwb.results import runs_table, sparsity_table, train_runs

nb = start("07_sparsity", dataset=dataset, quick=quick)
root = Path(runs_dir) if runs_dir else nb.runs
ds = load_dataset(dataset)
runs = runs_table(root)
sel = runs[(runs["dataset"] == dataset) & (runs["protocol"] == protocol) & runs["variant"].isin(["full", "-"])] \
    if len(runs) else runs
if models is not None and len(sel):
    sel = sel[sel["model"].isin(models)]
if len(sel) == 0 and ((quick and dataset == "synthetic") if train_if_missing is None else train_if_missing):
    print("no runs yet: training quick ones")
    sel = train_runs(ds, ["lightgcn", "cikgrec"], [0], root, protocol=protocol, quick=True)
print(f"{len(sel)} runs on {dataset} ({protocol} protocol)")

# %%
groups, skipped = sparsity_table(sel, ds, n_groups=n_groups, metric=metric)
if len(skipped):
    nb.table(skipped, caption="runs without checkpoint or cached group table (missing from the figure)")
if len(groups):
    seeds = sorted({int(s) for s in sel["seed"]})
    note = f"device: {','.join(sorted(set(map(str, sel['device']))))}" + \
        ("" if sel["converged"].all() else "; includes NOT converged runs (quick mode or time limit)")
    nb.table(groups, "figure3")
    nb.show(plots.sparsity_groups(groups, metric=metric, dataset=dataset, protocol=protocol, seeds=seeds, extra=note),
            f"figure3_{metric.replace('@', '')}")
    wide = groups.pivot_table(index=["group", "range"], columns="model", values=metric)
    if {"cikgrec", "lightgcn"} <= set(wide.columns):
        wide["gain of cikgrec over lightgcn (%)"] = 100 * (wide["cikgrec"] / wide["lightgcn"] - 1)
    nb.table(wide, "figure3_wide")
else:
    print("nothing to draw: no run with a checkpoint or a cached sparsity_groups.csv")
