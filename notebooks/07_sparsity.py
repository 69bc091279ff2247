# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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

from cikgwb.data import load_dataset
from cikgwb.data.registry import get_spec
from cikgwb.evaluate import sparsity_groups
from cikgwb.notebooks import start
from cikgwb.results import group_sizes, train_counts
from cikgwb.views import figure3, require

nb = start("07_sparsity", dataset=dataset, quick=quick)
ds = load_dataset(dataset)
counts = train_counts(ds)
nb.table(group_sizes(counts, sparsity_groups(counts, n_groups)), caption="the sparsity groups (train.txt items per user)")

# %% [markdown]
# ## The runs: found, else (synthetic, quick mode) trained here, else one MISSING line saying how

# %%
found = require("runs", dataset=dataset, root=Path(runs_dir) if runs_dir else nb.runs, protocol=protocol,
                models=models, make=(quick and get_spec(dataset).quick) if train_if_missing is None else train_if_missing)
print(f"{len(found.value) if found else 0} runs on {dataset} ({protocol} protocol)")

# %% [markdown]
# ## Figure 3: every model of Table 1 is in it or named under it with the reason

# %%
if found:
    f3 = figure3(found.value, ds, protocol=protocol, metric=metric, n_groups=n_groups, models=models)
    if len(f3["skipped"]):
        nb.table(f3["skipped"], caption="runs without per-user test metrics (not in the figure)")
    print("\n".join(f3["why"]))
    if f3["fig"] is None:
        print("MISSING: Figure 3 is not drawn: no run has per-user test metrics; make them with `cikgwb per-user RUN`")
    else:
        nb.table(f3["groups"], "figure3")
        nb.show(f3["fig"], f"figure3_{metric.replace('@', '')}", height=660 if f3["why"] else 560)
        nb.table(f3["wide"], "figure3_wide")
