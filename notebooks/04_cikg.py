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
# # 04 · The CIKG: statistics, views, neighbourhoods
#
# One graph over users, items, KG entities and interest nodes (docs/method.md section 2, step 4), the
# three contrastive views of CIKGRec (`views=paper` as the paper describes them, `views=authors`
# as the authors' code builds them, docs/method.md section 3), and what the graph says around one
# user and one interest, drawn as networks.

# %% tags=["parameters"]
dataset = "synthetic"
quick = True
interests = "paper"     # paper: the dataset's own interest graph | none | a folder written by 03
user = None             # None: a user with several interests
interest = None         # None: the largest interest
max_users = 6
max_items = 6

# %%
from cikgwb.data import load_dataset
from cikgwb.inspect_graph import graph_stats
from cikgwb.notebooks import start
from cikgwb.run_spec import dataset_with_interests
from cikgwb.views import edge_sets, interest_neighbourhood, user_neighbourhood

nb = start("04_cikg", dataset=dataset, quick=quick)
ds = dataset_with_interests(load_dataset(dataset), interests)
print("interests:", ds.meta.get("interests_source"))

# %% [markdown]
# ## Nodes, edges, degrees, interest coverage

# %%
st = graph_stats(ds)
for key in ("nodes", "edges", "degrees", "coverage"):
    nb.table(st[key], f"graph_{key}", caption=key)

# %% [markdown]
# ## Edge sets of the main graph and the contrastive views
# Undirected edges of the CIKG (interactions, KG, user-interest edges), and of each contrastive
# view as the paper describes it and as the authors' code builds it.

# %%
nb.table(edge_sets(ds), "edge_sets")

# %% [markdown]
# ## A user's neighbourhood
# The user (by default the first with most interests), their interests, the users sharing most of
# them, and the network around them; its node and edge tables are written beside the figure.

# %%
u = user_neighbourhood(ds, user, max_users=max_users, max_items=max_items)
nb.table(u["interests"], caption=f"interests of user {u['user']}")
nb.table(u["neighbours"], caption=f"users sharing most interests with user {u['user']}")
nb.show(u["fig"], "user_neighbourhood")
u["nodes"].to_csv(nb.figures / "04_cikg_user_neighbourhood_nodes.csv", index=False)
u["edges"].to_csv(nb.figures / "04_cikg_user_neighbourhood_edges.csv", index=False)

# %% [markdown]
# ## An interest's neighbourhood
# The interest (by default the largest), some of its members and their items.

# %%
fig = interest_neighbourhood(ds, interest, max_users=max_users, max_items=max_items)
if fig is not None:
    nb.show(fig, "interest_neighbourhood")
else:
    print("no interest nodes (interests='none')")
