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
# Users are cut into four groups of about equal total training interactions, as in KGAT and the
# paper (`cikgwb.evaluate.sparsity_groups` on each user's items in all of `train.txt`, so every
# run and protocol gets the same groups; `cikgwb data stats` prints the same groups). The test
# NDCG@50 of each group is averaged over the group's users with test items. One bar per model;
# the paper finds the gain of CIKGRec largest for the sparsest group.
#
# Per-user metrics come from each run folder: `sparsity_groups.csv` (cached here),
# `test_per_user.npz` (written by the trainer) or `explorer.npz` (`cikgwb artefact`), else from
# the run's checkpoint. A model whose runs have none of these (checkpoints are not committed) is
# named under the figure as not shown, with the command that adds it.

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
from cikgwb.data.registry import get_spec
from cikgwb.evaluate import sparsity_groups
from cikgwb.models import MODELS, _import_all
from cikgwb.notebooks import start
from cikgwb.results import REAL_DATASETS, group_sizes, sparsity_table, train_counts
from cikgwb.runs import find_runs, run_index, train_runs

nb = start("07_sparsity", dataset=dataset, quick=quick)
root = Path(runs_dir) if runs_dir else nb.runs
ds = load_dataset(dataset)
sel = find_runs(run_index(root), dataset=dataset, protocol=protocol, variant=("full", "-"), model=models)
if len(sel) == 0 and ((quick and get_spec(dataset).quick) if train_if_missing is None else train_if_missing):
    print("no runs yet: training quick ones")
    sel = train_runs(ds, ["lightgcn", "cikgrec"], [0], root, protocol=protocol, quick=True)
print(f"{len(sel)} runs on {dataset} ({protocol} protocol)")

# %%
counts = train_counts(ds)
nb.table(group_sizes(counts, sparsity_groups(counts, n_groups)), caption="the sparsity groups (train.txt items per user)")
groups, skipped = sparsity_table(sel, ds, n_groups=n_groups, metric=metric)
if len(skipped):
    nb.table(skipped, caption="runs without per-user test metrics (not in the figure)")
# every model of Table 1 is in the figure or named under it with the reason
_import_all()
shown = set(groups["model"]) if len(groups) else set()
expected = ["cikgrec", "lightgcn", *sorted(m for m in MODELS if m not in ("cikgrec", "lightgcn"))] \
    if dataset in REAL_DATASETS and models is None else list(models or [])
no_metrics = sorted(set(skipped["model"]) - shown) if len(skipped) else []
no_run = [m for m in expected if m not in shown and m not in no_metrics]
why = []
if no_metrics:
    why.append(f"not shown: {', '.join(no_metrics)}: their {protocol}-protocol runs have no per-user test metrics here "
               "(checkpoints are not committed; `cikgwb per-user RUN` or `cikgwb artefact RUN` where the checkpoints "
               "are adds them)")
if no_run:
    why.append(f"not shown: {', '.join(no_run)}: no finished {protocol}-protocol run of {dataset}")
for w in why:
    print(w)
if len(groups):
    seeds = sorted({int(s) for s in sel["seed"]})
    note = f"device: {','.join(sorted(set(map(str, sel['device']))))}" + \
        ("" if sel["converged"].all() else "; includes NOT converged runs (quick mode or time limit)")
    nb.table(groups, "figure3")
    nb.show(plots.sparsity_groups(groups, metric=metric, dataset=dataset, protocol=protocol, seeds=seeds, extra=note,
                                  note=(". ".join(w[0].upper() + w[1:] for w in why) + ".") if why else None),
            f"figure3_{metric.replace('@', '')}", height=660 if why else 560)
    wide = groups.pivot_table(index=["group", "range"], columns="model", values=metric)
    if {"cikgrec", "lightgcn"} <= set(wide.columns):
        wide["gain of cikgrec over lightgcn (%)"] = 100 * (wide["cikgrec"] / wide["lightgcn"] - 1)
    nb.table(wide, "figure3_wide")
else:
    print("nothing to draw: no run with a checkpoint or a cached sparsity_groups.csv")
