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
# # 09 · Sensitivity: Figure 5
#
# Test Recall@50 (lines, left axis) and NDCG@50 (bars, right axis) against one hyper-parameter
# at a time, the others at the dataset's defaults, from a sweep (`cikgwb sweep`, `make sweep`):
#
#     cikgwb sweep --dataset synthetic --grid alpha=0.01,0.05,0.2 --grid lambda3=0.001,0.01,0.1,1 \
#                  --set max_epochs=15 --set patience=5 --name synthetic-sensitivity-quick     (= make sweep)
#
# The paper (book-crossing): alpha near 0.1 is best, omega can go up to 0.95, too large a
# lambda3 hurts sharply. In quick mode a missing sweep is run here (small grid, a few epochs).
# Full mode reads `reports/sweeps/<dataset>-figure5`, the grid of `cikgwb.paper.FIGURE5_GRID`
# (its comment says which values and why), made by
#
#     make figure5        (= cikgwb sweep --dataset book-crossing --preset figure5 --set min_epochs=30)
#
# or by single-thread lanes training the same run names, gathered with `cikgwb sweep ... --collect`;
# points not yet run are listed as missing and left out of the panels. The same panels from the
# **validation** split follow: would selecting these values on valid have picked what test favours?

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
sweep = None            # a sweep folder; None: reports/sweeps/<dataset>-sensitivity-quick | <dataset>-figure5 (full)
grid = None             # None: alpha and lambda3 (quick), cikgwb.paper.FIGURE5_GRID (full)
seeds = [0]
quick_epochs = 15
jobs = 2
run_if_missing = None   # None: in quick mode only

# %%
from pathlib import Path

from cikgwb.notebooks import start
from cikgwb.paper import FIGURE5_GRID
from cikgwb.sweep import SweepSpec
from cikgwb.views import figure5, require, selection_agrees, sweep_summary

nb = start("09_sensitivity", dataset=dataset, quick=quick)
grid = grid or ({"alpha": [0.01, 0.05, 0.2], "lambda3": [0.001, 0.01, 0.1, 1.0]} if quick else FIGURE5_GRID)
name = f"{dataset}-sensitivity-quick" if quick else f"{dataset}-figure5"
folder = Path(sweep) if sweep else nb.reports / "sweeps" / name
tag = "" if folder.name == name else f"_{folder.name}"  # another sweep never overwrites the default one's figure

# %% [markdown]
# ## The sweep: found, else run here (quick mode), else one MISSING line with the command that makes it

# %%
spec = SweepSpec(name=folder.name, grid=grid, dataset=dataset, seeds=list(seeds),
                 base={"max_epochs": quick_epochs, "patience": 5} if quick else {})
found = require("sweep", dataset=dataset, sweep=folder, spec=spec, jobs=jobs,
                make=quick if run_if_missing is None else run_if_missing)
if found:
    results, info = found.value
    text, table = sweep_summary(results, info)
    print(text)
    nb.table(table, f"sweep_results{tag}")

# %% [markdown]
# ## Figure 5 (test split, as the paper)

# %%
if found:
    fig, test_frames = figure5(results, info, "test")
    nb.show(fig, f"figure5{tag}")
    for k, f in test_frames.items():
        nb.table(f, f"figure5_{k}{tag}")

# %% [markdown]
# ### The same from the validation split
# Where valid's best value is test's best value, choosing the hyper-parameter on valid (as the
# honest protocol does) would have found it.

# %%
if found:
    fig, valid_frames = figure5(results, info, "valid")
    nb.show(fig, f"figure5_valid{tag}")
    for k, f in valid_frames.items():
        nb.table(f, f"figure5_valid_{k}{tag}")
    print("\n".join(selection_agrees(test_frames, valid_frames)))
