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
from cikgwb.data import load_dataset
from cikgwb.notebooks import start
from cikgwb.views import data_table2, degrees_figure, sparsity_groups_view, split_table

nb = start("01_data", dataset=dataset, quick=quick)
ds = load_dataset(dataset, split_seed=split_seed)

# %% [markdown]
# ## Table 2 statistics
# Users, items and interactions (all three splits), the KG, and the interest graph shipped with the
# dataset; the lines below the table say where the interest graph and the KG came from, and what
# the loader had to drop or repair (if anything).

# %%
table2, lines = data_table2(ds)
nb.table(table2, "table2")
print("\n".join(lines))

# %% [markdown]
# ## The split
# `train.txt` is split per user into train and a seeded validation 1/8; `test.txt` is the test set.
# Model selection and early stopping use the validation split; test is evaluated once. The view
# checks that no (user, item) pair is in both train and valid.

# %%
split, lines = split_table(ds)
nb.table(split, "split")
print("\n".join(lines))

# %% [markdown]
# ## Sparsity groups (Figure 3's x axis)
# Users sorted by their number of training interactions (all of `train.txt`) and cut into groups
# holding about equal total interactions, as in KGAT.

# %%
groups, fig = sparsity_groups_view(ds, n_groups)
nb.table(groups, "sparsity_groups")
nb.show(fig, "sparsity_groups")

# %% [markdown]
# ## Degree distributions
# Interactions per user and per item, KG triples per item, interests per user and users per
# interest, in the training split.

# %%
nb.show(degrees_figure(ds), "degrees")
