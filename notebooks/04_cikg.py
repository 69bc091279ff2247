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
import numpy as np
import pandas as pd

from cikgwb import plots
from cikgwb.data import load_dataset
from cikgwb.graph import EdgeSets
from cikgwb.inspect_graph import graph_stats, neighbourhood_subgraph, subgraph_tables, user_view
from cikgwb.notebooks import start
from cikgwb.runs import dataset_with_interests

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

# %%
es = EdgeSets(ds, ds.train)
sizes = {"CIKG (main graph, no self-loops)": len(es.cikg), "interactions (G_R)": len(es.interact),
         "KG (items + entities)": len(es.kg), "user-interest (G_J)": len(es.interest)}
for kind in ("paper", "authors"):
    for v, e in es.views(kind).items():
        sizes[f"view {v} ({kind})"] = len(e)
views = pd.DataFrame({"undirected edges": sizes}).rename_axis("edge set")
nb.table(views, "edge_sets")
assert sizes["CIKG (main graph, no self-loops)"] <= len(es.interact) + len(es.kg) + len(es.interest)

# %% [markdown]
# ## A user's neighbourhood

# %%
n_int = np.bincount(ds.user_interest[:, 0], minlength=ds.n_users) if len(ds.user_interest) else np.zeros(ds.n_users, int)
if user is None:
    user = int(np.flatnonzero(n_int == n_int.max())[0]) if n_int.max() > 0 else 0
v = user_view(ds, user)
nb.table(v["interests"], caption=f"interests of user {user}")
nb.table(v["neighbours"], caption=f"users sharing most interests with user {user}")
G = neighbourhood_subgraph(ds, user=user, max_users=max_users, max_items=max_items)
title = plots.figure_title(f"Neighbourhood of user {user}: interests, users sharing them, items, KG",
                           dataset=dataset, extra=f"{G.number_of_nodes()} nodes, {G.number_of_edges()} edges")
nb.show(plots.network(G, title=title), "user_neighbourhood")
nodes, edges = subgraph_tables(G)
nodes.to_csv(nb.figures / "04_cikg_user_neighbourhood_nodes.csv", index=False)
edges.to_csv(nb.figures / "04_cikg_user_neighbourhood_edges.csv", index=False)

# %% [markdown]
# ## An interest's neighbourhood

# %%
if ds.n_interests:
    sizes_j = np.bincount(ds.user_interest[:, 1], minlength=ds.n_interests)
    j = int(np.argmax(sizes_j)) if interest is None else int(interest)
    Gj = neighbourhood_subgraph(ds, interest=j, max_users=max_users, max_items=max_items)
    title = plots.figure_title(f"Neighbourhood of interest {j} ({Gj.nodes[('interest', j)]['label']})",
                               dataset=dataset, extra=f"{int(sizes_j[j])} members, {max_users} shown")
    nb.show(plots.network(Gj, title=title), "interest_neighbourhood")
else:
    print("no interest nodes (interests='none')")
