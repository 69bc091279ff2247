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
# # 06 · Results: Table 1 and Table 3 from `reports/runs`
#
# Every finished run under `reports/runs/` (whoever made it: 05, `cikgwb train`, the demo)
# becomes a row; runs are grouped by dataset, model / variant, protocol and views, and each
# cell gives mean ± std over the seeds present, with the seeds, the devices and whether every
# run converged (early stop) or was cut short (quick mode, time limit). Combinations expected
# for the paper's tables but without a run are listed as **missing**. The `users` protocol is
# the headline (the epoch selected on one half of the test users, reported on the other half);
# `valid` (selection on validation, test once) is given beside it; the `authors` protocol selects
# on test as the authors' code does and is only for comparison with the paper's numbers.

# %% tags=["parameters"]
dataset = "synthetic"   # the dataset whose figures are drawn (tables list every dataset)
quick = True
runs_dir = None         # None: reports/runs
include_quick = True    # quick (not converged) runs in the tables

# %%
from pathlib import Path

from cikgwb.notebooks import start
from cikgwb.results import runs_table, table1
from cikgwb.views import TABLE1_COLUMNS, TABLE3_COLUMNS, runs_found, significance, table1_glance, table3_with_figures

nb = start("06_results", dataset=dataset, quick=quick)
root = Path(runs_dir) if runs_dir else nb.runs
runs = runs_table(root)
runs = runs if include_quick or not len(runs) else runs[runs["converged"]]
print(f"{len(runs)} finished runs under {root}")
if len(runs):
    nb.table(runs_found(runs), caption="runs found")

# %% [markdown]
# ## Table 1 (test; Recall / NDCG @ 50 and 100)
# provenance: the seeds trained from a dirty tree (†) or by more than one commit (‡), `cikgwb.runs.PROVENANCE_MARKS`

# %%
t1 = table1(runs)
nb.table(t1[TABLE1_COLUMNS], "table1", max_rows=200)
print("missing:", int(t1["status"].str.startswith("missing").sum()), "of", len(t1), "expected cells")

# %% [markdown]
# ### One dataset at a glance (cells: mean ± std, protocol, seeds; one bar chart per protocol and metric)

# %%
glance, figs = table1_glance(t1, dataset)
if glance is None:
    print(f"no finished run on {dataset} yet (run 05_training or `cikgwb train --dataset {dataset}`)")
else:
    nb.table(glance, "table1_glance", caption=f"{dataset}: Recall@50")
for stem, fig in figs:
    nb.show(fig, stem)

# %% [markdown]
# ## Table 3 (ablations; Recall / NDCG @ 100)
# Every real dataset with CIKGRec runs is in the table; the charts are the notebook's dataset's (the
# other datasets' charts are drawn when the notebook runs on them, into their folders).

# %%
t3, figs = table3_with_figures(runs, dataset)
nb.table(t3[TABLE3_COLUMNS], "table3", max_rows=100)
for stem, fig in figs:
    nb.show(fig, stem)

# %% [markdown]
# ## Is CIKGRec better? Paired tests against its rivals (users protocol, the headline; valid protocol)
#
# `cikgwb.claims.claim_baselines` (the tests of `cikgwb compare`): A = CIKGRec, B = LightGCN, the
# baseline with the best mean test Recall@50 and every simple baseline with runs. Over seeds, runs are
# paired by seed (paired t-test and Wilcoxon; a verdict needs 3 common seeds); over users, each user's
# test metrics at the selected epoch (`test_per_user.npz`) are paired. The p(t) of one protocol's
# table are Holm-adjusted together, and every p-value is conditional on the dataset's one published
# split. Until the users protocol has runs its verdict reads "waiting for users-protocol runs".

# %%
table, verdicts, caption = significance(runs, dataset)
print("\n".join(verdicts))
if table is not None:
    nb.table(table, "table1_significance", max_rows=100, caption=caption)
