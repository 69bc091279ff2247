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
# # 01 · Data: Table 2 statistics, the split, the sparsity groups
#
# The dataset as the rest of the workbench sees it: the paper's Table 2 figures (users, items,
# interactions, KG), the user-side interest graph shipped with it, the seeded validation split
# (a 1/8 of each user's `train.txt` items, docs/method.md section 1) and the four sparsity groups of
# Figure 3. Everything is computed by `cikgwb`; this notebook only shows it.

# %% tags=["parameters"]
dataset = "synthetic"   # synthetic | book-crossing | dbbook2014 | ml1m
quick = True            # quick mode: the embedded default, minutes on 2 CPU cores
split_seed = 0          # seed of the validation carve-out
n_groups = 4            # sparsity groups (Figure 3)

# %%
import numpy as np
import pandas as pd

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.evaluate import sparsity_groups
from cikgwb.inspect_graph import degrees
from cikgwb.notebooks import start
from cikgwb.results import group_sizes, train_counts

nb = start("01_data", dataset=dataset, quick=quick)
ds = load_dataset(dataset, split_seed=split_seed)

# %% [markdown]
# ## Table 2 statistics

# %%
s = ds.summary()
table2 = pd.DataFrame({
    "value": [s["users"], s["items"], s["ratings"], f"{100 * s['density']:.3f} %", s["relations"], s["entities"],
              s["triples"], s["interests"], s["interest edges"], s["users with interests"]],
}, index=pd.Index(["users", "items", "interactions", "density", "KG relations", "KG entities", "KG triples",
                   "interest nodes", "user-interest edges", "users with interests"], name=f"{dataset}"))
nb.table(table2, "table2")
print("interest graph:", ds.meta.get("interests_source"))
print("KG:", ds.meta.get("kg"))
for k, v in ds.meta.get("warnings", {}).items():
    print(f"warning: {k}: {v:,}")
assert s["users"] == ds.n_users and s["ratings"] == len(ds.train) + len(ds.valid) + len(ds.test)

# %% [markdown]
# ## The split
# `train.txt` is split per user into train and a seeded validation 1/8; `test.txt` is the test set.
# Model selection and early stopping use the validation split; test is evaluated once.

# %%
n_train = np.diff(ds.matrix("train").indptr)
n_valid = np.diff(ds.matrix("valid").indptr)
n_test = np.diff(ds.matrix("test").indptr)
split = pd.DataFrame({
    "pairs": [len(ds.train), len(ds.valid), len(ds.test)],
    "users with >= 1": [(n_train > 0).sum(), (n_valid > 0).sum(), (n_test > 0).sum()],
    "mean per user": [n_train.mean(), n_valid.mean(), n_test.mean()],
}, index=pd.Index(["train", "valid", "test"], name="split"))
nb.table(split, "split")
print("rule:", s["split"].get("rule"), "| seed:", s["split"].get("seed"))
overlap = ds.matrix("train").multiply(ds.matrix("valid")).nnz
assert overlap == 0, "a (user, item) pair is in both train and valid"
share = len(ds.valid) / (len(ds.train) + len(ds.valid))
print(f"valid share of train.txt: {share:.3f} (1/8 = 0.125)")

# %% [markdown]
# ## Sparsity groups (Figure 3's x axis)
# Users sorted by their number of training interactions (all of `train.txt`) and cut into groups
# holding about equal total interactions, as in KGAT.

# %%
counts = train_counts(ds)
groups = sparsity_groups(counts, n_groups)
gs = group_sizes(counts, groups)
nb.table(gs.set_index("group"), "sparsity_groups")
nb.show(plots.sparsity_group_sizes(gs, dataset=dataset), "sparsity_groups")

# %% [markdown]
# ## Degree distributions

# %%
deg = {
    "user: interactions": degrees(ds, "user", "interact"),
    "item: interactions": degrees(ds, "item", "interact"),
    "item: KG triples": degrees(ds, "item", "kg"),
    "user: interests": degrees(ds, "user", "has_interest"),
    "interest: users": degrees(ds, "interest", "has_interest"),
}
nb.show(plots.degree_distribution(deg, dataset=dataset, what="Degree distributions (training split)"), "degrees")
